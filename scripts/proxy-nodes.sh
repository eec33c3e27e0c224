#!/usr/bin/env bash
# Started by Playwright (end2end/tests/proxy.spec.ts): HAProxy on port $1 (default 3120), plain
# HTTP, in front of two release nodes on $1+1 and $1+2 sharing one fresh PostgreSQL database.
# The proxy's configuration is deploy/haproxy.cfg rewritten for loopback (scripts/proxy-lib.sh),
# plus the test-only `e2e_node` cookie that pins a browser to a node and the X-Served-By header.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/proxy-lib.sh"
cd "$ROOT"
[[ -n "${E2E_SERVER_LOGS:-}" ]] && export PROXY_NODE_LOGS=stderr
proxy_setup "${1:-3120}" http
node_start a
node_start b
haproxy_start
node_wait_status a UP 10
node_wait_status b UP 10
# Until Playwright stops the script; a node or the proxy dying ends it, and the spec with it.
wait -n "$haproxy_pid" "$node_pid_a" "$node_pid_b"
die "haproxy or a node exited while the browser tests ran"
