#!/usr/bin/env bash
# The TLS scan an auditor would run: the release server on a loopback port with a 90-day
# certificate from `server dev-cert`, scanned by Debian's testssl.sh (JSON output). Fails on any
# finding of severity HIGH or CRITICAL (except trust and revocation of the self-signed test
# certificate), on any protocol below TLS 1.2 being offered, and unless the server sets the
# cipher order. Prints the protocols, the order and the counts by severity.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
command -v testssl.sh >/dev/null || command -v testssl >/dev/null \
  || die "testssl.sh is missing (Debian package testssl.sh; scripts/setup.sh installs it)"
command -v jq >/dev/null || die "jq is missing (scripts/setup.sh installs it)"
[[ -x "$SERVER_BIN" ]] || die "no release server at $SERVER_BIN: run cargo leptos build --release first"
TESTSSL="$(command -v testssl.sh || command -v testssl)"

port="${1:-3443}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$SERVER_BIN" dev-cert --dir "$work/tls" --host localhost --host 127.0.0.1 --days 90 >/dev/null
APP_ENVIRONMENT=development \
  APP_SERVER__PORT="$port" \
  APP_SERVER__PUBLIC_URL="https://localhost:$port" \
  APP_SERVER__TLS__CERT_FILE="$work/tls/cert.pem" \
  APP_SERVER__TLS__KEY_FILE="$work/tls/key.pem" \
  APP_DATABASE__URL="sqlite://$work/tls.db?mode=rwc" \
  APP_KEYS__FILE="$work/keys.json" \
  APP_AUDIT__CHECKPOINT_FILE="$work/checkpoints.log" \
  "$SERVER_BIN" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
  curl -fsSk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the TLS server did not start"; }
  sleep 0.5
done
curl -fsSk "https://127.0.0.1:$port/readyz" >/dev/null || die "the TLS server is not ready on port $port"

step "testssl.sh against https://127.0.0.1:$port (takes a few minutes)"
started=$SECONDS
# --warnings batch: no questions (CI has no stdin). The exit status says how many findings
# there were, so the JSON is what decides.
"$TESTSSL" --quiet --warnings batch --color 0 --ip one --jsonfile "$work/testssl.json" \
  "127.0.0.1:$port" >"$work/testssl.txt" 2>&1 || true
[[ -s "$work/testssl.json" ]] || { tail -n 40 "$work/testssl.txt" >&2; die "testssl.sh wrote no JSON"; }
echo "scan took $((SECONDS - started)) s"

json="$work/testssl.json"
# Trust and revocation of a self-signed test certificate are expected to be flagged.
allowed='^(cert_chain_of_trust|cert_trust|cert_revocation|cert_ocspURL|cert_crlDistributionPoints|OCSP_stapling|cert_caIssuers)'
echo "findings by severity:"
jq -r 'group_by(.severity) | map("  \(.[0].severity): \(length)") | .[]' "$json"
echo "protocols offered:"
jq -r '.[] | select(.id | test("^(SSLv2|SSLv3|TLS1|TLS1_1|TLS1_2|TLS1_3)$")) | "  \(.id): \(.finding)"' "$json"
echo "cipher order:"
jq -r '.[] | select(.id == "cipher_order" or (.id | startswith("cipher_order"))) | "  \(.id): \(.finding)"' "$json"

echo "findings above OK and INFO (the self-signed test certificate's trust is expected):"
jq -r '.[] | select(.severity == "LOW" or .severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL") | "  \(.severity) \(.id): \(.finding)"' "$json"
bad="$(jq -r --arg allowed "$allowed" \
  '.[] | select((.severity == "HIGH" or .severity == "CRITICAL") and (.id | test($allowed) | not)) | "\(.id) \(.severity): \(.finding)"' "$json")"
[[ -z "$bad" ]] || die "testssl.sh found HIGH or CRITICAL issues:"$'\n'"$bad"
old="$(jq -r '.[] | select((.id | test("^(SSLv2|SSLv3|TLS1|TLS1_1)$")) and (.finding | test("not offered") | not)) | .id' "$json")"
[[ -z "$old" ]] || die "protocols below TLS 1.2 are offered: $old"
jq -e '.[] | select(.id == "TLS1_2") | select(.finding | test("^offered"))' "$json" >/dev/null || die "TLS 1.2 is not offered"
jq -e '.[] | select(.id == "TLS1_3") | select(.finding | test("^offered"))' "$json" >/dev/null || die "TLS 1.3 is not offered"
jq -e '.[] | select(.id | startswith("cipher_order")) | select(.finding | test("server"; "i"))' "$json" >/dev/null \
  || die "the server does not set the cipher order"
echo "TLS scan: no HIGH or CRITICAL finding, TLS 1.2 and 1.3 only, server cipher order"
