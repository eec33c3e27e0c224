#!/usr/bin/env bash
# Started by Playwright: two release servers, ports $1 and $1+1, on one fresh PostgreSQL
# database: two app nodes of one clinic, sharing nothing but the database (sessions, signaling).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
[[ -x "$SERVER_BIN" ]] || die "no release server at $SERVER_BIN: run cargo leptos build --release first"
PG_ADMIN="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_isready -q -d "$PG_ADMIN" \
  || die "PostgreSQL is not reachable at $PG_ADMIN; the two-node browser test needs it and does not skip"
port_a="${1:-3101}"
port_b=$((port_a + 1))
db="e2e_nodes_$(date +%s)_$$"
data="$(mktemp -d)"
node_b=""
cleanup() {
  # In braces with `|| true`: wait returns the node's 143, which would end the cleanup here.
  { [[ -n "$node_b" ]] && kill "$node_b" 2>/dev/null && wait "$node_b" 2>/dev/null; } || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
psql "$PG_ADMIN" -qc "CREATE DATABASE $db" >/dev/null
# As in production: the owner migrates, the nodes connect as a role that may only insert and
# read audit rows (roles are cluster-wide, so create it once).
psql "$PG_ADMIN" -qc "DO \$\$ BEGIN CREATE ROLE clinic_app_e2e LOGIN; \
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$" >/dev/null
export APP_ENVIRONMENT=development
export APP_DATABASE__MIGRATION_URL="${PG_ADMIN%/*}/$db"
export APP_DATABASE__URL="$(sed -E 's#^(postgres(ql)?://)([^@/]*@)?#\1clinic_app_e2e@#' <<<"${PG_ADMIN%/*}")/$db"
export APP_KEYS__FILE="$data/keys.json"
# Every person in the browser tests signs in from 127.0.0.1, several within a minute: the
# per-address challenge budget (30 a minute in production) is raised for that one address.
export APP_AUTH__ANONYMOUS_CHALLENGES_PER_MINUTE=600
export APP_AUDIT__CHECKPOINT_FILE="$data/audit-checkpoints.log"
export APP_SERVER__PUBLIC_URL="http://localhost:$port_a"
"$SERVER_BIN" admin bootstrap --name "E2E Admin" --link-file "$data/admin-link"
"$SERVER_BIN" seed --patients 10 --mrn-prefix E2E --link-dir "${E2E_LINK_DIR:-$data/links}"
# Each node is reached at its own port here, so each names that port as its public URL (server
# functions accept only the public origin); behind a load balancer both would share one.
APP_SERVER__PORT="$port_b" APP_SERVER__PUBLIC_URL="http://localhost:$port_b" "$SERVER_BIN" serve &
node_b=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port_b/readyz" >/dev/null 2>&1 && break
  kill -0 "$node_b" 2>/dev/null || die "the second node did not start"
  sleep 0.5
done
APP_SERVER__PORT="$port_a" "$SERVER_BIN" serve
