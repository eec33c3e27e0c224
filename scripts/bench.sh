#!/usr/bin/env bash
# Runs the benchmarks: criterion for the per-field crypto, printed figures for audit throughput.
# Environment for the audit bench: BENCH_ROWS (default 4000), BENCH_POSTGRES_URL (an admin URL,
# default postgres://postgres@127.0.0.1:5432/postgres), CI=true to fail when PostgreSQL is absent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo bench -p app --features ssr --bench crypto -- --noplot
cargo bench -p app --features ssr --bench audit
