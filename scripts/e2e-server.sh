#!/usr/bin/env bash
# Started by Playwright: the release server on port $1 with a throwaway database and keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
[[ -x "$SERVER_BIN" ]] || die "no release server at $SERVER_BIN: run cargo leptos build --release first"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
export APP_ENVIRONMENT=development
export APP_SERVER__PORT="${1:-3100}"
export APP_SERVER__PUBLIC_URL="http://localhost:$APP_SERVER__PORT"
export APP_DATABASE__URL="sqlite://$data/e2e.db?mode=rwc"
export APP_KEYS__FILE="$data/keys.json"
# Every person in the browser tests signs in from 127.0.0.1, several within a minute: the
# per-address challenge budget (30 a minute in production) is raised for that one address.
export APP_AUTH__ANONYMOUS_CHALLENGES_PER_MINUTE=600
export APP_AUDIT__CHECKPOINT_FILE="$data/audit-checkpoints.log"
# The first admin comes first: bootstrap makes its own account only while no admin exists.
"$SERVER_BIN" admin bootstrap --name "E2E Admin" --link-file "${E2E_LINK_FILE:-$data/admin-link}"
# Demo staff and the first patient's account, with their enrollment links in $E2E_LINK_DIR:
# clinician (assigned to E2E-0000000), care-team-clinician, other-clinician (no relationship to
# E2E-0000000), security, front-desk (an admin), patient (the account of E2E-0000000) and
# patient-2 (the account of E2E-0000001, assigned to care-team-clinician).
"$SERVER_BIN" seed --patients 10 --mrn-prefix E2E --link-dir "${E2E_LINK_DIR:-$data/links}"
# For the operator steps the tests take on the host (scripts/e2e-cli.sh): enrollment links are
# never shown in a browser, and development has no mail relay.
cat >"${E2E_LINK_DIR:-$data/links}/server.env" <<ENV
APP_ENVIRONMENT=$APP_ENVIRONMENT
APP_SERVER__PORT=$APP_SERVER__PORT
APP_SERVER__PUBLIC_URL=$APP_SERVER__PUBLIC_URL
APP_DATABASE__URL=$APP_DATABASE__URL
APP_KEYS__FILE=$APP_KEYS__FILE
ENV
"$SERVER_BIN" serve
