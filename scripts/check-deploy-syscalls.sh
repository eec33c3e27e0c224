#!/usr/bin/env bash
# Does the release server live inside deploy/clinic.service's seccomp and socket filters? CI
# cannot start the unit (no systemd as PID 1), so this runs the real binary under strace
# instead: start (migrations, keys, background tasks), pages, health and readiness probes,
# `server healthcheck`, and a graceful stop on SIGTERM. Every system call it made must be in the
# unit's SystemCallFilter (allow-list minus the ~ lines, expanded by systemd-analyze) and every
# socket it opened must be of a RestrictAddressFamilies family. A call outside the filter
# would fail with EPERM in production, so this fails instead.
# Run after the release build (cargo leptos build --release --split), on SQLite with synthetic data.
# Needs: strace and systemd-analyze (Debian: strace systemd), curl, python3.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

UNIT="${UNIT:-deploy/clinic.service}"
# Another build of the server (a debug one) may stand in: its system calls are the same.
SERVER_BIN="${CHECK_SERVER_BIN:-$SERVER_BIN}"
for tool in strace systemd-analyze curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (needed by $0; Debian: strace systemd curl python3)"
done
[[ -x "$SERVER_BIN" ]] || die "no release server at $SERVER_BIN: run cargo leptos build --release first"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  # strace and the server are one process group of their own (setsid below).
  if [[ -n "$server_pid" ]]; then kill -- -"$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The unit never runs the server as root, and as root the server makes calls it otherwise does
# not (SQLite hands its journal and WAL files to the database file's owner with fchown, which
# the unit's filter refuses). So under root the traced server runs as nobody, from copies of
# its binary, settings and site in a directory nobody owns.
as_user=()
bin="$SERVER_BIN"
if [[ "$(id -u)" == 0 ]]; then
  as_user=(-u nobody)
  install -m 0755 "$SERVER_BIN" "$work/server"
  cp -r config "$work/config"
  [[ -d target/site ]] && cp -r target/site "$work/site"
  chown -R nobody: "$work"
  bin="$work/server"
  export APP_CONFIG_DIR="$work/config" APP_SERVER__SITE_ROOT="$work/site"
fi

port="${SYSCALL_CHECK_PORT:-3877}"
export APP_ENVIRONMENT=development
export APP_SERVER__PORT="$port"
export APP_SERVER__PUBLIC_URL="http://localhost:$port"
export APP_DATABASE__URL="sqlite://$work/clinic.db?mode=rwc"
export APP_KEYS__FILE="$work/keys.json"
export APP_AUDIT__CHECKPOINT_FILE="$work/audit-checkpoints.log"
export APP_AUDIT__CHECKPOINT_INTERVAL_SECONDS=1

step "tracing the release server: start, requests, SIGTERM"
# One trace file per process (-ff): the server's threads all land in files of its pid's name.
setsid strace -f -ff -qq "${as_user[@]}" -o "$work/trace" -- "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
[[ -n "$ready" ]] || { tail -n 30 "$work/server.log" >&2; die "the traced server never became ready"; }
for path in / /healthz /readyz /pkg/clinic.js /pkg/clinic.wasm /no-such-page; do
  curl -sS -o /dev/null -w "  GET $path -> %{http_code}\n" "http://127.0.0.1:$port$path"
done
# Long enough for the chainer to write a signed checkpoint (interval 1 s above).
sleep 2
if "$SERVER_BIN" --help 2>/dev/null | grep -qw healthcheck; then
  strace -f -ff -qq "${as_user[@]}" -o "$work/trace-healthcheck" -- "$bin" healthcheck \
    || die "server healthcheck failed against a ready server"
  echo "  server healthcheck: exit 0"
else
  echo "  (this build has no 'server healthcheck' command yet; not traced)"
fi
# SIGTERM to the server itself (strace's child), as systemd sends it; strace then exits with
# the server's status.
child="$(pgrep -P "$server_pid" | head -n1)"
[[ -n "$child" ]] || die "no server process under strace"
kill -TERM "$child"
wait "$server_pid" || die "the server did not exit cleanly on SIGTERM (status $?)"
server_pid=""
[[ -s "$work/audit-checkpoints.log" ]] || die "the traced server wrote no audit checkpoint"

step "comparing with $UNIT"
python3 - "$UNIT" "$work" <<'PY'
import glob, re, subprocess, sys

unit, work = sys.argv[1], sys.argv[2]

def expand(name, seen=None):
    """A syscall name, or a @group expanded through systemd-analyze (groups nest)."""
    if not name.startswith("@"):
        return {name}
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if word and not word.startswith("#"):
            calls |= expand(word, seen)
    return calls

allow, deny, families = None, set(), set()
for line in open(unit, encoding="utf-8"):
    line = line.strip()
    if line.startswith("SystemCallFilter="):
        value = line.split("=", 1)[1]
        if value.startswith("~"):
            for word in value[1:].split():
                deny |= expand(word)
        else:
            allow = (allow or set()) | set().union(*(expand(w) for w in value.split()))
    elif line.startswith("RestrictAddressFamilies="):
        families |= set(line.split("=", 1)[1].split())
if allow is None:
    sys.exit(f"{unit} has no SystemCallFilter allow-list")
permitted = allow - deny

call = re.compile(r"^(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)")
sock = re.compile(r"^socket\((AF_[A-Z0-9]+|\d+),")
used, opened = {}, set()
files = glob.glob(f"{work}/trace*")
for path in files:
    for line in open(path, encoding="utf-8", errors="replace"):
        m = call.match(line)
        if m:
            used[m.group(1)] = used.get(m.group(1), 0) + 1
        s = sock.match(line)
        if s:
            opened.add(s.group(1))

outside = sorted(set(used) - permitted)
bad_families = sorted(opened - families)
print(f"{len(files)} trace files, {len(used)} distinct system calls, "
      f"{sum(used.values())} calls; filter permits {len(permitted)}")
print("system calls: " + " ".join(sorted(used)))
print(f"socket families opened: {', '.join(sorted(opened)) or 'none'}; unit allows {', '.join(sorted(families))}")
for name in outside:
    print(f"  NOT PERMITTED by {unit}: {name} ({used[name]} calls)", file=sys.stderr)
for family in bad_families:
    print(f"  socket family NOT ALLOWED by {unit}: {family}", file=sys.stderr)
sys.exit(1 if outside or bad_families else 0)
PY
echo "the traced server stayed inside the unit's system call and socket filters"
