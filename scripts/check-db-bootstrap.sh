#!/usr/bin/env bash
# Runs the database bootstrap script of deploy/terraform/aws/ecs.tf (the one-off task that
# creates the app's PostgreSQL roles on RDS) against a real PostgreSQL, as a master account
# that, like RDS's, can create roles and databases but is no superuser. It must create the
# owner and app roles with exactly the passwords of their secrets, hand the database to the
# owner, leave the app role unable to change the schema, keep the password out of every SQL
# text it sends, and do the same again on a second run.
# Needs psql and python-hcl2 (scripts/py-tools.sh); PostgreSQL at TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres, as scripts/test.sh starts it), a superuser.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/py-tools.sh"

PG_ADMIN="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
command -v psql >/dev/null || die "psql is missing (Debian: apt-get install postgresql-client)"
psql -X -q "$PG_ADMIN" -c 'select 1' >/dev/null 2>&1 \
  || die "PostgreSQL is not reachable at $PG_ADMIN; set TEST_POSTGRES_URL (this check does not skip)"
hcl2_bin="$(py_tool hcl2)" || die "could not install python-hcl2 (see scripts/py-tools.sh)"

work="$(mktemp -d)"
id="tfck$$"
owner="${id}_owner" app="${id}_app" master="${id}_master" db="${id}_db"
cleanup() {
  psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db" \
    -c "DROP ROLE IF EXISTS $owner" -c "DROP ROLE IF EXISTS $app" -c "DROP ROLE IF EXISTS $master" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "render the bootstrap script from ecs.tf (roles $owner, $app; database $db)"
# Terraform's <<- heredoc: the common indentation goes, $${ and %%{ are escapes, and every
# interpolation must be one this check knows (a new one fails here until it is added).
"$hcl2_bin/python" - "$ROOT/deploy/terraform/aws/ecs.tf" "$owner" "$app" "$db" >"$work/bootstrap.sh" <<'PY'
import re
import sys
import textwrap

import hcl2

path, owner, app, db = sys.argv[1:]
with open(path) as handle:
    doc = hcl2.load(handle)
raw = next(block["db_bootstrap_script"] for block in doc["locals"] if "db_bootstrap_script" in block)
match = re.fullmatch(r'"?<<-EOT\n(.*\n)\s*EOT"?', raw, re.S)
if not match:
    sys.exit("db_bootstrap_script is no longer a <<-EOT heredoc")
known = {"local.db_roles.owner": owner, "local.db_roles.app": app, "aws_db_instance.main.db_name": db}
def interpolate(found):
    if found.group(1) not in known:
        sys.exit(f"unknown interpolation ${{{found.group(1)}}} in db_bootstrap_script")
    return known[found.group(1)]
text = re.sub(r"(?<!\$)\$\{([^}]+)\}", interpolate, textwrap.dedent(match.group(1)))
print(text.replace("$${", "${").replace("%%{", "%{"), end="")
PY
sh -n "$work/bootstrap.sh" || die "the rendered bootstrap script is not valid sh"

step "a master account like RDS's: CREATEROLE and CREATEDB, no superuser"
master_password="m$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN" \
  -c "CREATE ROLE $master LOGIN CREATEROLE CREATEDB PASSWORD '$master_password'" \
  -c "CREATE DATABASE $db OWNER $master"

# psql as the task runs it, recording its arguments so the passwords can be looked for there.
mkdir -p "$work/bin"
real_psql="$(command -v psql)"
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >>"%s/psql-args"\nexec "%s" "$@"\n' "$work" "$real_psql" >"$work/bin/psql"
chmod +x "$work/bin/psql"
read -r pg_host pg_port < <("$hcl2_bin/python" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or 5432)' "$PG_ADMIN")
owner_password="$(head -c 36 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
app_password="$(head -c 36 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
run_bootstrap() {
  env -i PATH="$work/bin:/usr/bin:/bin" PGHOST="$pg_host" PGPORT="$pg_port" PGDATABASE="$db" PGSSLMODE=prefer \
    PGUSER="$master" PGPASSWORD="$master_password" \
    CLINIC_OWNER_PASSWORD="$owner_password" CLINIC_APP_PASSWORD="$app_password" \
    setsid sh -c "$(cat "$work/bootstrap.sh")" </dev/null 2>"$work/stderr"
}

passed=0
pass() { passed=$((passed + 1)); }

step "first run, then a second one (idempotent)"
run_bootstrap | grep -qx "database roles ready" || { cat "$work/stderr" >&2; die "the first run did not finish"; }
pass
run_bootstrap | grep -qx "database roles ready" || { cat "$work/stderr" >&2; die "the second run did not finish"; }
pass

step "what the database holds now"
q() { psql -X -tA -v ON_ERROR_STOP=1 "$PG_ADMIN" -c "$1"; }
[[ "$(q "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")" == "$owner" ]] \
  || die "the database is not owned by $owner"
pass
[[ "$(q "SELECT has_database_privilege('$app', '$db', 'CONNECT')")" == "t" ]] || die "$app cannot connect to $db"
pass
[[ "$(q "SELECT count(*) FROM pg_database, aclexplode(datacl) a WHERE datname = '$db' AND a.grantee = 0")" == "0" ]] \
  || die "PUBLIC still has rights on $db"
pass
[[ "$(q "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = '$app'")" == "f" ]] \
  || die "$app has more than LOGIN"
pass
# The schema is the owner's (pg_database_owner), so only the owner may create tables in it.
psql -X -tA "postgres://$app@$pg_host:$pg_port/$db" -c "SELECT has_schema_privilege('public', 'CREATE')" | grep -qx f \
  || die "$app may create objects in the public schema"
pass
psql -X -q -v ON_ERROR_STOP=1 "postgres://$owner@$pg_host:$pg_port/$db" -c "CREATE TABLE tfck (x int); DROP TABLE tfck" \
  || die "$owner cannot change the schema"
pass

# Each role's stored SCRAM verifier must be the one for its secret's password (RFC 5802).
for pair in "$owner:$owner_password" "$app:$app_password"; do
  role="${pair%%:*}"
  q "SELECT rolpassword FROM pg_authid WHERE rolname = '$role'" | "$hcl2_bin/python" -c '
import base64, hashlib, hmac, sys
verifier = sys.stdin.read().strip()
method, rest = verifier.split("$", 1)
iterations_salt, keys = rest.split("$")
iterations, salt = iterations_salt.split(":")
stored_key = keys.split(":")[0]
salted = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), base64.b64decode(salt), int(iterations))
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
ok = method == "SCRAM-SHA-256" and base64.b64decode(stored_key) == hashlib.sha256(client_key).digest()
sys.exit(0 if ok else 1)' "${pair#*:}" || die "$role's password is not the one in its secret"
  pass
done
for secret in "$owner_password" "$app_password"; do
  if grep -qF -- "$secret" "$work/psql-args"; then die "a role password was passed to psql as SQL text"; fi
  pass
done
echo "bootstrap: roles, ownership and passwords as intended, twice; no password in any SQL text"
echo "db-bootstrap: $passed passed, 0 failed"
