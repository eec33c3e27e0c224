#!/usr/bin/env bash
# Runs the benchmarks: criterion for the per-field crypto, printed figures for audit throughput,
# and the chart-read path under load (wrk, concurrency 32, 10,000 patients) and search over
# 100,000 patients, on SQLite and PostgreSQL (BENCH_PATIENTS, BENCH_SEARCH_PATIENTS, BENCH_SECONDS),
# and video-visit signaling latency and rate over real WebSockets, one node and two on PostgreSQL.
# Environment for the audit bench: BENCH_ROWS (default 4000), BENCH_POSTGRES_URL (an admin URL,
# default postgres://postgres@127.0.0.1:5432/postgres), CI=true to fail when PostgreSQL is absent.
# The security monitor's detectors over BENCH_MONITOR_ROWS audit rows (default 1,000,000).
# `audit verify` over BENCH_VERIFY_ROWS generated rows (default 10,000,000; several GB of disk
# per backend) and a resumed run over BENCH_INCREMENTAL_ROWS more (default 100,000).
# Then the release server in its own process, as a clinic runs it: chart reads under wrk at
# concurrency 16 and 64 on PostgreSQL (against pgbench's ceiling for the same transaction
# shape) and SQLite, with the audit rows counted and the server's peak RSS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

cargo bench -p app --features ssr --bench crypto -- --noplot
cargo bench -p app --features ssr --bench audit
cargo bench -p app --features ssr --bench monitoring
cargo bench -p app --features ssr --bench audit_verify

# The chart-read path under load needs a real load generator: wrk, from Debian.
if ! command -v wrk >/dev/null; then
  SUDO=""
  [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
cargo bench -p server --bench chart
cargo bench -p server --bench signaling

# The release server, built as the README's run command builds it.
bash scripts/setup.sh
build_release
BENCH_SERVER_BIN="$SERVER_BIN" cargo bench -p server --bench release
