#!/usr/bin/env bash
# The README's test command, and everything CI runs: formatting, clippy per package and target,
# the deployment files checked statically (checkov, python-hcl2, systemd-analyze), unit,
# repository and HTTP tests on SQLite and PostgreSQL, the release build with its precompressed
# WASM bundle, Playwright in Debian's Chromium, the TLS scan, two nodes behind HAProxy under
# load, and the run command brought up from this tree.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
LOG_DIR="$(mktemp -d)"
trap 'rm -rf "$LOG_DIR"' EXIT

bash scripts/setup.sh

step "checking PostgreSQL (data-layer tests run on it too and never skip)"
PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if ! pg_isready -q -d "$PG_URL" 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    sleep 2
  fi
  pg_isready -q -d "$PG_URL" 2>/dev/null \
    || die "PostgreSQL is not reachable at $PG_URL. Start it or set TEST_POSTGRES_URL; these tests do not skip."
fi
[[ -x /usr/bin/chromium ]] || die "Chromium is missing at /usr/bin/chromium; browser tests do not skip."

step "the AWS reference's one-off database bootstrap, run against PostgreSQL"
bash scripts/check-db-bootstrap.sh

step "cargo fmt --check"
cargo fmt --all --check

step "deployment files, statically: the container image, the systemd unit, the AWS Terraform"
bash scripts/check-deploy-static.sh
bash scripts/check-terraform.sh

step "clippy, per package and target (-D warnings)"
cargo clippy -p migrations --all-targets -- -D warnings
cargo clippy -p app --features test-support --all-targets -- -D warnings
cargo clippy -p server --all-targets -- -D warnings
cargo clippy -p app --features hydrate --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p frontend --lib --target wasm32-unknown-unknown -- -D warnings

step "unit, repository and HTTP tests on SQLite and PostgreSQL"
cargo test -p migrations -p app -p server --features app/test-support 2>&1 | tee "$LOG_DIR/cargo-test.log"

step "release build: server and WASM bundle, precompressed (brotli and gzip)"
build_release
wasm="target/site/pkg/clinic.wasm"
[[ -s "$wasm.br" && -s "$wasm.gz" ]] || die "the release build wrote no precompressed bundle ($wasm.br, $wasm.gz)"
[[ -s target/site/pkg/__wasm_split_manifest.json ]] || die "the release build was not split (no __wasm_split_manifest.json)"
printf 'WASM main module: %s bytes raw; on the wire %s bytes brotli, %s bytes gzip\n' \
  "$(stat -c %s "$wasm")" "$(stat -c %s "$wasm.br")" "$(stat -c %s "$wasm.gz")"
chunks=(target/site/pkg/*.wasm)
printf 'WASM modules in all (main and lazily loaded chunks): %s, %s bytes gzip\n' \
  "${#chunks[@]}" "$(cat "${chunks[@]/%/.gz}" | wc -c)"

step "the release server's system calls against the systemd unit's filters (strace)"
bash scripts/check-deploy-syscalls.sh

step "browser tests (Playwright, Debian's Chromium)"
(cd end2end && playwright test) 2>&1 | tee "$LOG_DIR/playwright.log"

step "TLS scan of the release server (testssl.sh)"
bash scripts/tls-check.sh

step "two release nodes behind HAProxy under load: one killed, one stopped gracefully"
bash scripts/proxy-load.sh

step "the README's run command, from this tree"
smoke="$(mktemp -d)"
port=3999
APP_SERVER__PORT=$port APP_DATABASE__URL="sqlite://$smoke/run.db?mode=rwc" APP_KEYS__FILE="$smoke/keys.json" \
  SEED_PATIENTS=5 setsid bash scripts/run.sh >"$LOG_DIR/run.log" 2>&1 &
run_pid=$!
stop_run() { kill -- -"$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; rm -rf "$smoke"; }
ready=""
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 1
done
if [[ -z "$ready" ]]; then
  tail -n 40 "$LOG_DIR/run.log" >&2
  stop_run
  die "the run command did not become ready on port $port"
fi
page="$(curl -fsS "http://127.0.0.1:$port/")"
stop_run
grep -q "Welcome to the clinic" <<<"$page" || die "the run command's page did not render"
echo "run command: ready, page served, stopped"

cargo_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$LOG_DIR/cargo-test.log" | awk '{s+=$4} END {print s+0}')
e2e_passed=$(grep -Eo '^ *[0-9]+ passed' "$LOG_DIR/playwright.log" | awk '{s+=$1} END {print s+0}')
echo "tests: $((cargo_passed + e2e_passed)) passed, 0 failed"
