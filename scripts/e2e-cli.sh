#!/usr/bin/env bash
# For browser tests: run a `server` command on the host against a running e2e server, as its
# operator would. Usage: e2e-cli.sh SERVER_ENV_FILE COMMAND... (the env file is the one
# scripts/e2e-server.sh writes next to its links).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
env_file="$1"
shift
set -a
# shellcheck disable=SC1090
source "$env_file"
set +a
exec "$SERVER_BIN" "$@"
