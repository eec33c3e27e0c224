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
# Demo staff and the first patient's account, with their enrollment links in $E2E_LINK_DIR:
# clinician (assigned to E2E-0000000), care-team-clinician, other-clinician (no relationship to
# E2E-0000000), security, patient (the account of E2E-0000000).
"$SERVER_BIN" seed --patients 10 --mrn-prefix E2E --link-dir "${E2E_LINK_DIR:-$data/links}"
"$SERVER_BIN" admin bootstrap --name "E2E Admin" --link-file "${E2E_LINK_FILE:-$data/admin-link}"
"$SERVER_BIN" serve
