#!/usr/bin/env bash
# Failover under bounded load: HAProxy (deploy/haproxy.cfg, TLS at the proxy with a throwaway
# certificate) on port $1 (default 3140) in front of two release nodes on $1+1 and $1+2 sharing
# one fresh PostgreSQL database, and wrk loading a real page through the proxy.
#   run 1: node b is killed (SIGKILL) 10 s in. Only the requests in flight on it may fail (at
#          most one per connection), and HAProxy must mark it DOWN within fall x inter of its
#          checks (plus one interval for where in its cycle the crash landed).
#   run 2: b is back and UP; 10 s in it is stopped (SIGTERM). Zero requests may fail and b
#          must exit with status 0: a node stopped for a deploy costs nobody anything.
# Debian packages: haproxy, wrk, postgresql-client, openssl, curl, socat.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/proxy-lib.sh"
cd "$ROOT"
proxy_require wrk awk
connections=16
duration=30
kill_after=10
page=/sign-in
# From deploy/haproxy.cfg's `default-server check inter 1s fall 2 rise 2`.
inter=1
fall=2
down_bound=$((inter * (fall + 1)))

proxy_setup "${1:-3140}" https
url="https://127.0.0.1:$proxy_port$page"

step "two nodes behind HAProxy (TLS at the proxy), wrk -t2 -c$connections -d${duration}s on $page"
node_start a
node_start b
haproxy_start
node_wait_status a UP 10
node_wait_status b UP 10

# The proxy's own promises, before any load: the page through TLS from either node, HSTS, the
# plain-HTTP port only redirecting, and no non-AEAD cipher or pre-1.2 protocol accepted.
served=""
for _ in 1 2 3 4; do
  headers="$(curl -ksS -o /dev/null -D - "$url")"
  grep -q '^HTTP/[0-9.]* 200' <<<"$headers" || die "$page through the proxy did not answer 200: $headers"
  grep -qi '^strict-transport-security: max-age=63072000' <<<"$headers" || die "no HSTS header through the proxy"
  served+="$(awk -F': ' 'tolower($1) == "x-served-by" {print $2}' <<<"$headers" | tr -d '\r') "
done
echo "four requests were answered by: $served"
[[ "$served" == *a* && "$served" == *b* ]] || die "round robin did not reach both nodes: $served"
redirect="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$((proxy_port + 3))$page")"
[[ "$redirect" == "301 https://127.0.0.1:$((proxy_port + 3))$page" ]] || die "port 80's frontend did not redirect to https: $redirect"
echo "plain HTTP: $redirect"
tls_accepted() {
  openssl s_client -connect "127.0.0.1:$proxy_port" -servername localhost "$@" </dev/null >/dev/null 2>&1
}
tls_accepted -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 || die "the proxy refused TLS 1.2 with AES-GCM"
tls_accepted -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA && die "the proxy accepted a CBC (non-AEAD) cipher"
tls_accepted -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' && die "the proxy accepted TLS 1.1"
echo "TLS: 1.1 and CBC refused, 1.2 with AES-GCM accepted"

# wrk's summary: "Socket errors: connect C, read R, write W, timeout T" and "Non-2xx or 3xx
# responses: N" appear only when non-zero.
wrk_errors() {
  local socket non2xx
  socket=$(grep -Eo 'Socket errors: connect [0-9]+, read [0-9]+, write [0-9]+, timeout [0-9]+' "$1" \
    | grep -Eo '[0-9]+' | awk '{s += $1} END {print s + 0}')
  non2xx=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' "$1" | grep -Eo '[0-9]+$' || echo 0)
  echo $((socket + non2xx))
}

wrk_run() {
  # A generous timeout: two shared cores render the page slowly under load, and a slow answer
  # is not what this check measures.
  wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s "$url" >"$proxy_dir/$1.txt" 2>&1
}

answered() {
  haproxy_cmd "show stat" | awk -F, -v node="$1" '$1 == "clinic" && $2 == node {print $8}'
}

failures=()

step "run 1: kill -9 node b ${kill_after} s into the load"
before_a=$(answered a)
before_b=$(answered b)
wrk_run run1 &
wrk_pid=$!
sleep "$kill_after"
kill -9 "$node_pid_b"
killed_at=$EPOCHREALTIME
until [[ "$(node_status b)" == DOWN ]]; do
  awk -v t0="$killed_at" -v now="$EPOCHREALTIME" 'BEGIN {exit !(now - t0 > 15)}' \
    && die "haproxy had not marked node b DOWN 15 s after it was killed"
  sleep 0.1
done
down_after=$(awk -v t0="$killed_at" -v now="$EPOCHREALTIME" 'BEGIN {printf "%.1f", now - t0}')
status=0
wait "$node_pid_b" || status=$?
wait "$wrk_pid" || die "wrk failed: $(cat "$proxy_dir/run1.txt")"
cat "$proxy_dir/run1.txt"
errors=$(wrk_errors "$proxy_dir/run1.txt")
echo "run 1: node b killed (exit status $status), marked DOWN after ${down_after} s (bound ${down_bound} s)"
echo "run 1: requests HAProxy sent to a: $(($(answered a) - before_a)), to b: $(($(answered b) - before_b)) (retries included)"
echo "run 1: failed requests: $errors (bound: $connections, one per connection)"
grep -m1 'clinic/b is DOWN' "$proxy_dir/haproxy.log" || true
((errors <= connections)) || failures+=("run 1: $errors failed requests, more than the $connections in flight")
awk -v d="$down_after" -v b="$down_bound" 'BEGIN {exit !(d <= b)}' \
  || failures+=("run 1: node b was marked DOWN after ${down_after} s, later than ${down_bound} s")

step "run 2: node b back, then SIGTERM ${kill_after} s into the load"
node_start b
node_wait_status b UP 10
before_a=$(answered a)
before_b=$(answered b)
wrk_run run2 &
wrk_pid=$!
sleep "$kill_after"
kill -TERM "$node_pid_b"
termed_at=$EPOCHREALTIME
status=0
wait "$node_pid_b" || status=$?
exited_after=$(awk -v t0="$termed_at" -v now="$EPOCHREALTIME" 'BEGIN {printf "%.1f", now - t0}')
wait "$wrk_pid" || die "wrk failed: $(cat "$proxy_dir/run2.txt")"
cat "$proxy_dir/run2.txt"
errors=$(wrk_errors "$proxy_dir/run2.txt")
echo "run 2: node b exited with status $status ${exited_after} s after SIGTERM; haproxy says b is $(node_status b)"
echo "run 2: requests HAProxy sent to a: $(($(answered a) - before_a)), to b: $(($(answered b) - before_b)) (retries included)"
echo "run 2: failed requests: $errors (bound: 0)"
((errors == 0)) || failures+=("run 2: $errors failed requests while node b shut down (expected none)")
((status == 0)) || failures+=("run 2: node b exited with status $status after SIGTERM (expected 0)")
grep -E 'shutting down|ERROR' "$proxy_dir/node-b.log" | tail -n 5 || true

if ((${#failures[@]})); then
  printf 'FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "failover: passed"
