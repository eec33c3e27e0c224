#!/usr/bin/env bash
# Static checks of the deployment files; CI has no container engine and no systemd as PID 1,
# so nothing here builds or starts anything:
#   1. checkov's Dockerfile policies on deploy/Dockerfile: none may fail; a skip counts only
#      with a reason (`# checkov:skip=CKV_DOCKER_N:why` on the instruction).
#   2. the image's own rules (scripts/check-dockerfile-rules.py): distroless runtime holding
#      only the binary, site and config, numeric non-root USER, exec-form HEALTHCHECK, tool
#      versions in step with scripts/setup.sh.
#   3. `systemd-analyze verify` on deploy/clinic.service, in a scratch root with a stub
#      /opt/clinic/server (verify refuses a unit whose ExecStart does not exist); any line it
#      prints fails the check, since it reports misspelt or unparsable settings as warnings
#      and still exits 0.
#   4. `systemd-analyze security --offline=true`: overall exposure at most 2.0, and nothing
#      exposed beyond the accepted list below.
# `--self-test` breaks copies of the files in known ways and expects each check to fail.
# Needs: python3 (checkov 3.3.30 is installed on first use, scripts/py-tools.sh), jq, and
# systemd-analyze 252+ (Debian: systemd). A missing tool fails the run, in CI and outside it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/py-tools.sh"
cd "$ROOT"

MAX_EXPOSURE="2.0"
# What the unit leaves exposed, on purpose. Any other item the analysis marks as exposed is a
# regression even while the total stays under MAX_EXPOSURE.
declare -A ACCEPTED=(
  [PrivateNetwork]="it serves clients and reaches PostgreSQL, SMTP and webhooks"
  [RestrictAddressFamilies_AF_INET_INET6]="the same: TCP over IPv4 and IPv6"
  [RestrictAddressFamilies_AF_UNIX]="a local PostgreSQL socket and unix:/dev/log checkpoints"
  [IPAddressDeny]="clients come from anywhere; a site narrows it in a drop-in (deploy/README.md)"
  [DeviceAllow]="char-rtc:r is what ProtectClock=yes itself allows"
  [RootDirectoryOrRootImage]="a plain binary under /opt, with ProtectSystem=strict instead"
)

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed (needed by $0; $2)"; }

tools() {
  need python3 "Debian: python3 python3-venv"
  need jq "Debian: jq"
  need systemd-analyze "Debian: systemd"
  CHECKOV_BIN="$(py_tool checkov)" || die "could not install checkov (scripts/py-tools.sh)"
  [[ -x "$CHECKOV_BIN/checkov" ]] || die "no checkov in $CHECKOV_BIN"
}

# checkov on one Dockerfile: zero failed, zero parse errors, every skip with a reason.
check_checkov() {
  local dockerfile="$1" out
  step "checkov: Dockerfile policies on $dockerfile"
  out="$(mktemp)"
  # --skip-download and BC_SKIP_MAPPING: no call to Prisma Cloud for guideline links, which
  # fails offline and would send the run's metadata out otherwise. Exit status 1 just means
  # failed checks, which are counted from the JSON below.
  BC_SKIP_MAPPING=TRUE "$CHECKOV_BIN/checkov" -f "$dockerfile" --framework dockerfile --skip-download \
    -o json >"$out" 2>"$out.err" || true
  jq -e 'type == "object" or type == "array"' "$out" >/dev/null 2>&1 \
    || { cat "$out.err" "$out" >&2; rm -f "$out" "$out.err"; die "checkov gave no JSON report for $dockerfile"; }
  local report
  report="$(jq -c 'if type == "array" then .[0] else . end' "$out")"
  rm -f "$out" "$out.err"
  local passed failed skipped errors resources
  read -r passed failed skipped errors resources < <(jq -r '.summary // {passed:0,failed:0,skipped:0,parsing_errors:0,resource_count:0}
    | "\(.passed) \(.failed) \(.skipped) \(.parsing_errors) \(.resource_count)"' <<<"$report")
  printf 'checkov %s: %s passed, %s failed, %s skipped, %s parse errors\n' \
    "$("$CHECKOV_BIN/checkov" --version)" "$passed" "$failed" "$skipped" "$errors"
  jq -r '.results.failed_checks[]? | "  FAILED \(.check_id) \(.check_name) (line \(.file_line_range | join("-")))"' <<<"$report"
  jq -r '.results.skipped_checks[]? | "  skipped \(.check_id): \(.check_result.suppress_comment)"' <<<"$report"
  [[ "$errors" == 0 ]] || die "checkov could not parse $dockerfile"
  [[ "$resources" -ge 1 && "$passed" -gt 0 ]] || die "checkov checked nothing in $dockerfile"
  [[ "$failed" == 0 ]] || die "$failed checkov check(s) failed on $dockerfile"
  # checkov fills in this text when a skip comment gives no reason.
  if jq -e '[.results.skipped_checks[]? | .check_result.suppress_comment // "" |
        select(. == "" or . == "No comment provided")] | length > 0' <<<"$report" >/dev/null; then
    die "a checkov skip in $dockerfile gives no reason (# checkov:skip=ID:reason)"
  fi
}

check_image_rules() {
  local dockerfile="$1" dockerignore="$2"
  step "image rules: $dockerfile"
  "$CHECKOV_BIN/python" scripts/check-dockerfile-rules.py "$dockerfile" "$dockerignore" scripts/setup.sh Cargo.toml \
    || die "$dockerfile breaks the image rules above"
}

check_unit_verify() {
  local unit="$1" root name out
  name="$(basename "$unit")"
  step "systemd-analyze verify $name (scratch root, stub ExecStart)"
  root="$(mktemp -d)"
  mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/opt/clinic"
  # The targets a service depends on by default (sysinit.target, ...) come from this host.
  cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
  cp "$unit" "$root/etc/systemd/system/$name"
  local exec
  exec="$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | head -n1)"
  [[ "$exec" == /* ]] || { rm -rf "$root"; die "$name has no absolute ExecStart"; }
  mkdir -p "$root$(dirname "$exec")"
  printf '#!/bin/sh\nexit 0\n' >"$root$exec"
  chmod 0755 "$root$exec"
  out="$(SYSTEMD_COLORS=0 systemd-analyze verify --root="$root" "$name" 2>&1)" \
    || { rm -rf "$root"; printf '%s\n' "$out" >&2; die "systemd-analyze verify refused $name"; }
  rm -rf "$root"
  if [[ -n "$out" ]]; then
    printf '%s\n' "$out" >&2
    die "systemd-analyze verify warned about $name (a misspelt or unparsable setting is ignored by systemd)"
  fi
  echo "verify: clean"
}

check_unit_security() {
  local unit="$1" text json score rc=0
  step "systemd-analyze security --offline=true $(basename "$unit") (at most $MAX_EXPOSURE)"
  # --threshold takes tenths (20 = 2.0) in systemd 252 as well; the score is also parsed so
  # that it is printed, and so that an analyser without --threshold cannot pass silently.
  local threshold="${MAX_EXPOSURE/./}"
  text="$(SYSTEMD_COLORS=0 systemd-analyze security --offline=true --threshold="$threshold" --no-pager "$unit" 2>&1)" || rc=$?
  json="$(systemd-analyze security --offline=true --json=short --no-pager "$unit" 2>/dev/null)" \
    || die "systemd-analyze security --json=short failed on $unit"
  score="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$text" | tail -n1)"
  [[ -n "$score" ]] || { printf '%s\n' "$text" >&2; die "no overall exposure level in systemd-analyze's output"; }
  echo "exposed on purpose:"
  local field unexpected=()
  while IFS=$'\t' read -r field exposure name; do
    if [[ -n "${ACCEPTED[$field]:-}" ]]; then
      printf '  %-45s %s  (%s)\n' "$name" "$exposure" "${ACCEPTED[$field]}"
    else
      unexpected+=("$name ($exposure)")
    fi
  done < <(jq -r '.[] | select(.exposure != null and (.exposure | tonumber) > 0) |
      [.json_field, .exposure, .name] | @tsv' <<<"$json")
  printf 'overall exposure level: %s (threshold %s)\n' "$score" "$MAX_EXPOSURE"
  if ((${#unexpected[@]})); then
    printf '  not accepted: %s\n' "${unexpected[@]}" >&2
    die "$(basename "$unit") exposes ${#unexpected[@]} setting(s) beyond the accepted list"
  fi
  awk -v s="$score" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(s <= max) }' \
    || die "overall exposure $score is above $MAX_EXPOSURE"
  [[ "$rc" == 0 ]] || die "systemd-analyze security exited $rc at --threshold=$threshold"
}

run_all() {
  local dir="$1"
  check_checkov "$dir/Dockerfile"
  check_image_rules "$dir/Dockerfile" "$dir/Dockerfile.dockerignore"
  check_unit_verify "$dir/clinic.service"
  check_unit_security "$dir/clinic.service"
}

# Each case breaks one thing in a copy of deploy/ and names the check that must catch it.
self_test() {
  local scratch cases=0
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' RETURN
  expect_failure() {
    local what="$1" check="$2" file="$3" sed_expr="$4"
    rm -rf "$scratch/deploy" && cp -r deploy "$scratch/deploy"
    sed -i -e "$sed_expr" "$scratch/deploy/$file"
    cmp -s "deploy/$file" "$scratch/deploy/$file" && die "self-test case '$what' changed nothing in $file"
    if ("$check" "$scratch/deploy/$(basename "$file")" "$scratch/deploy/Dockerfile.dockerignore") >"$scratch/log" 2>&1; then
      cat "$scratch/log" >&2
      die "self-test: $check passed although $what"
    fi
    printf '  caught: %s\n      %s\n' "$what" "$(grep -m1 -E '^  FAIL|^error:' "$scratch/log")"
    cases=$((cases + 1))
  }
  step "self-test: broken copies must fail"
  expect_failure "the image has no HEALTHCHECK" check_checkov Dockerfile '/^HEALTHCHECK/d'
  expect_failure "the image runs as root" check_image_rules Dockerfile 's/^USER 65532:65532/USER 0/'
  expect_failure "the runtime stage is Debian with a shell" check_image_rules Dockerfile \
    's#^FROM gcr.io/distroless/cc-debian12:nonroot#FROM debian:bookworm-slim#'
  expect_failure "the runtime stage also gets the sources" check_image_rules Dockerfile \
    's#^COPY --from=builder --chown=0:0 /src/config /app/config#&\nCOPY --from=builder /src /src#'
  expect_failure "the HEALTHCHECK needs a shell" check_image_rules Dockerfile \
    's#CMD \["/app/server", "healthcheck"\]#CMD /app/server healthcheck || exit 1#'
  expect_failure "cargo-leptos drifts from setup.sh" check_image_rules Dockerfile \
    's/^ARG CARGO_LEPTOS_VERSION=.*/ARG CARGO_LEPTOS_VERSION=0.3.11/'
  expect_failure "a setting is misspelt" check_unit_verify clinic.service 's/^ProtectSystem=strict/ProtectSytem=strict/'
  expect_failure "a setting has a bad value" check_unit_verify clinic.service 's/^ProtectSystem=strict/ProtectSystem=stricter/'
  expect_failure "the service keeps every capability" check_unit_security clinic.service '/^CapabilityBoundingSet=/d'
  expect_failure "the service runs as root with a writable system" check_unit_security clinic.service \
    '/^\(DynamicUser\|ProtectSystem\|PrivateUsers\|SystemCallFilter\|CapabilityBoundingSet\)=/d'
  # The total alone, with every item accepted: a tighter limit than today's score must fail.
  if (MAX_EXPOSURE=1.0 check_unit_security deploy/clinic.service) >"$scratch/log" 2>&1; then
    cat "$scratch/log" >&2
    die "self-test: the exposure limit 1.0 passed a unit that scores above it"
  fi
  printf '  caught: a limit below the score\n      %s\n' "$(grep -m1 '^error:' "$scratch/log")"
  echo "self-test: $cases broken copies and one tight limit, each caught"
}

tools
if [[ "${1:-}" == "--self-test" ]]; then
  self_test
else
  run_all deploy
fi
