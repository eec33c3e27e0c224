#!/usr/bin/env bash
# The README's run command: install what is missing, build, create the SQLite database and a
# development key file (mode 0600) if there are none, seed synthetic demo patients, and serve
# on http://localhost:3000 (APP_SERVER__PORT changes the port).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
step "building the release server and WASM bundle"
build_release
export APP_ENVIRONMENT="${APP_ENVIRONMENT:-development}"
export APP_SERVER__PUBLIC_URL="${APP_SERVER__PUBLIC_URL:-http://localhost:${APP_SERVER__PORT:-3000}}"
step "migrating and seeding synthetic demo data"
# The first admin first: bootstrap makes its own account only while no admin exists.
"$SERVER_BIN" admin bootstrap
"$SERVER_BIN" seed --patients "${SEED_PATIENTS:-50}" --if-empty
step "serving on http://localhost:${APP_SERVER__PORT:-3000} (Ctrl-C to stop)"
exec "$SERVER_BIN" serve
