# Sourced by scripts/proxy-nodes.sh (Playwright's proxy server) and scripts/proxy-load.sh (the
# failover check): HAProxy, configured from deploy/haproxy.cfg, in front of two release nodes
# on one fresh PostgreSQL database, as scripts/e2e-nodes.sh sets them up (the owner migrates,
# the nodes connect as a restricted role). Ports: the proxy at P, node a at P+1, node b at P+2.
# Debian packages: haproxy, postgresql-client, openssl, curl, socat (the stats socket).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

proxy_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian package: $tool); this check needs it and does not skip"
  done
}

# The test configuration: deploy/haproxy.cfg with loopback addresses, files in $proxy_dir and
# the test-only routing. Each rewrite must find its line, so the test follows the reference
# file instead of silently testing a stale copy.
cfg_replace() {
  local file="$1" from="$2" to="$3"
  grep -qF -- "$from" "$file" || die "deploy/haproxy.cfg no longer has '$from': update scripts/proxy-lib.sh"
  FROM="$from" TO="$to" awk '{
      i = index($0, ENVIRON["FROM"])
      if (i) $0 = substr($0, 1, i - 1) ENVIRON["TO"] substr($0, i + length(ENVIRON["FROM"]))
      print
    }' "$file" >"$file.new"
  mv "$file.new" "$file"
}

cfg_drop_line() {
  local file="$1" line="$2"
  grep -qxF -- "$line" "$file" || die "deploy/haproxy.cfg no longer has the line '$line': update scripts/proxy-lib.sh"
  grep -vxF -- "$line" "$file" >"$file.new" || true
  mv "$file.new" "$file"
}

# Writes $proxy_dir/haproxy.cfg. Mode https: TLS at the proxy with a throwaway certificate, the
# redirect frontend at P+3. Mode http: plain HTTP at the proxy for the browser test
# (http://localhost is a secure context, so passkeys work) and no redirect frontend.
proxy_config() {
  local mode="$1" cfg="$proxy_dir/haproxy.cfg"
  cp "$ROOT/deploy/haproxy.cfg" "$cfg"
  # Foreground, unprivileged-friendly, logging to stderr (captured in haproxy.log).
  cfg_drop_line "$cfg" "    chroot /var/lib/haproxy"
  cfg_drop_line "$cfg" "    user haproxy"
  cfg_drop_line "$cfg" "    group haproxy"
  cfg_drop_line "$cfg" "    daemon"
  cfg_replace "$cfg" "log /dev/log local0" "log stderr format iso local0"
  cfg_replace "$cfg" "stats socket /run/haproxy/admin.sock mode 660" "stats socket $proxy_dir/admin.sock mode 600"
  cfg_replace "$cfg" "server a 10.0.1.11:3000" "server a 127.0.0.1:$node_port_a"
  cfg_replace "$cfg" "server b 10.0.1.12:3000" "server b 127.0.0.1:$node_port_b"
  if [[ "$mode" == https ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 90 \
      -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$proxy_dir/clinic.key" -out "$proxy_dir/clinic.crt" 2>/dev/null
    cat "$proxy_dir/clinic.crt" "$proxy_dir/clinic.key" >"$proxy_dir/clinic.pem"
    chmod 600 "$proxy_dir/clinic.pem" "$proxy_dir/clinic.key"
    cfg_replace "$cfg" "bind :443 ssl crt /etc/haproxy/clinic.pem" "bind 127.0.0.1:$proxy_port ssl crt $proxy_dir/clinic.pem"
    cfg_replace "$cfg" "bind :80" "bind 127.0.0.1:$((proxy_port + 3))"
  else
    cfg_replace "$cfg" "bind :443 ssl crt /etc/haproxy/clinic.pem alpn h2,http/1.1" "bind 127.0.0.1:$proxy_port"
    cfg_replace "$cfg" "X-Forwarded-Proto https" "X-Forwarded-Proto http"
    awk '/^frontend www-redirect$/ {skip = 1} skip && /^$/ {skip = 0; next} !skip' "$cfg" >"$cfg.new"
    mv "$cfg.new" "$cfg"
  fi
  # Test only, never in production: a cookie pins a browser to one node, and every response
  # names the node that answered.
  grep -qx "    balance roundrobin" "$cfg" || die "deploy/haproxy.cfg has no 'balance roundrobin' line"
  awk '{print} /^    balance roundrobin$/ {
      print "    use-server a if { req.cook(e2e_node) -m str a }"
      print "    use-server b if { req.cook(e2e_node) -m str b }"
      print "    http-response set-header X-Served-By %s"
    }' "$cfg" >"$cfg.new"
  mv "$cfg.new" "$cfg"
  haproxy -c -q -f "$cfg" || die "the generated HAProxy configuration $cfg is not valid"
}

proxy_cleanup() {
  local pid
  for pid in "${haproxy_pid:-}" "${node_pid_a:-}" "${node_pid_b:-}"; do
    # `|| true`: a killed child's wait status must not end the cleanup (set -e) before the
    # database is dropped.
    [[ -n "$pid" ]] && { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $proxy_db WITH (FORCE)" >/dev/null 2>&1 || true
  [[ -n "${proxy_dir:-}" ]] && rm -rf "$proxy_dir"
  return 0
}

# proxy_setup PORT MODE: a fresh database with the seeded clinic (links in $E2E_LINK_DIR when
# set), the nodes' environment, and the proxy's configuration. Nothing is started yet.
proxy_setup() {
  proxy_port="$1"
  local mode="$2"
  node_port_a=$((proxy_port + 1))
  node_port_b=$((proxy_port + 2))
  proxy_require haproxy psql pg_isready openssl curl socat
  [[ -x "$SERVER_BIN" ]] || die "no release server at $SERVER_BIN: run cargo leptos build --release first"
  PG_ADMIN="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  pg_isready -q -d "$PG_ADMIN" || die "PostgreSQL is not reachable at $PG_ADMIN; the proxy checks need it and do not skip"
  proxy_db="e2e_proxy_$(date +%s)_$$"
  proxy_dir="$(mktemp -d)"
  trap proxy_cleanup EXIT
  trap 'exit 143' TERM INT
  psql "$PG_ADMIN" -qc "CREATE DATABASE $proxy_db" >/dev/null
  psql "$PG_ADMIN" -qc "DO \$\$ BEGIN CREATE ROLE clinic_app_e2e LOGIN; \
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$" >/dev/null
  export APP_ENVIRONMENT=development
  export APP_DATABASE__MIGRATION_URL="${PG_ADMIN%/*}/$proxy_db"
  APP_DATABASE__URL="$(sed -E 's#^(postgres(ql)?://)([^@/]*@)?#\1clinic_app_e2e@#' <<<"${PG_ADMIN%/*}")/$proxy_db"
  export APP_DATABASE__URL
  export APP_KEYS__FILE="$proxy_dir/keys.json"
  export APP_AUTH__ANONYMOUS_CHALLENGES_PER_MINUTE=600
  export APP_AUDIT__CHECKPOINT_FILE="$proxy_dir/audit-checkpoints.log"
  # Behind the proxy both nodes have the proxy's URL, and believe its X-Forwarded-For.
  export APP_SERVER__PUBLIC_URL="$mode://localhost:$proxy_port"
  export APP_SERVER__TRUSTED_PROXIES=127.0.0.1/32
  # Over https the proxy terminates TLS: the nodes believe its X-Forwarded-Proto (HSTS, Secure
  # cookies, plain HTTP redirected). The browser test runs plain HTTP on localhost.
  export APP_SERVER__TLS__TERMINATED_BY_PROXY=$([[ "$mode" == https ]] && echo true || echo false)
  "$SERVER_BIN" admin bootstrap --name "E2E Admin" --link-file "$proxy_dir/admin-link" >>"$proxy_dir/setup.log" 2>&1 \
    || { cat "$proxy_dir/setup.log" >&2; die "admin bootstrap failed"; }
  "$SERVER_BIN" seed --patients 10 --mrn-prefix E2E --link-dir "${E2E_LINK_DIR:-$proxy_dir/links}" >>"$proxy_dir/setup.log" 2>&1 \
    || { cat "$proxy_dir/setup.log" >&2; die "seeding the clinic failed"; }
  proxy_config "$mode"
}

# node_start a|b: the node in the background, its output in $proxy_dir/node-NAME.log (or on
# stderr with PROXY_NODE_LOGS=stderr); returns once it answers /readyz.
node_start() {
  local name="$1" port pid log
  port=$([[ "$name" == a ]] && echo "$node_port_a" || echo "$node_port_b")
  log="$proxy_dir/node-$name.log"
  [[ "${PROXY_NODE_LOGS:-}" == stderr ]] && log=/dev/stderr
  APP_SERVER__PORT="$port" "$SERVER_BIN" serve >>"$log" 2>&1 &
  pid=$!
  printf -v "node_pid_$name" '%s' "$pid"
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$proxy_dir/node-$name.log" >&2; die "node $name did not start"; }
    sleep 0.5
  done
  die "node $name did not become ready on port $port"
}

haproxy_start() {
  haproxy -db -f "$proxy_dir/haproxy.cfg" 2>>"$proxy_dir/haproxy.log" &
  haproxy_pid=$!
  for _ in $(seq 1 40); do
    [[ -S "$proxy_dir/admin.sock" ]] && return 0
    kill -0 "$haproxy_pid" 2>/dev/null || { cat "$proxy_dir/haproxy.log" >&2; die "haproxy did not start"; }
    sleep 0.25
  done
  die "haproxy's stats socket did not appear"
}

haproxy_cmd() {
  socat - "UNIX-CONNECT:$proxy_dir/admin.sock" <<<"$*"
}

# The node's status as HAProxy's health checks see it: UP, DOWN, "UP 1/2" (going down), ...
node_status() {
  haproxy_cmd "show stat" | awk -F, -v node="$1" '$1 == "clinic" && $2 == node {print $18}'
}

# Waits until node_status is exactly $2, at most $3 seconds.
node_wait_status() {
  local name="$1" want="$2" deadline=$((SECONDS + $3))
  until [[ "$(node_status "$name")" == "$want" ]]; do
    ((SECONDS < deadline)) || die "haproxy did not mark node $name $want within $3 s (it says: $(node_status "$name"))"
    sleep 0.2
  done
}
