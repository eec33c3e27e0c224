#!/usr/bin/env bash
# Static checks of the AWS reference architecture (deploy/terraform/aws), with no AWS account
# and no terraform binary:
#   1. every .tf file parses (python-hcl2);
#   2. every reference resolves, and the deployment's own promises hold
#      (scripts/check-terraform-policy.py: six-year logs, 35-day backups, TLS policy, no
#      internet route from the private subnets, ...);
#   3. checkov finds zero failed checks; a skip counts only as a `# checkov:skip=ID:reason`
#      comment inside the resource it concerns, with a reason, and every such comment must
#      match a check checkov really skipped (no stale or misplaced skips);
#   4. the gates bite: a copy with deliberate regressions must fail both 2 and 3.
# Needs python3 with venv (Debian: python3-venv) for the pinned tools of scripts/py-tools.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/py-tools.sh"

TF_DIR="$ROOT/deploy/terraform/aws"
[[ -d "$TF_DIR" ]] || die "no $TF_DIR"
command -v jq >/dev/null || die "jq is missing (Debian: apt-get install jq)"
command -v python3 >/dev/null || die "python3 is missing (Debian: apt-get install python3 python3-venv)"
hcl2_bin="$(py_tool hcl2)" || die "could not install python-hcl2 (see scripts/py-tools.sh)"
checkov_bin="$(py_tool checkov)" || die "could not install checkov (see scripts/py-tools.sh)"
# py_tool's install can fail half-way and still leave a virtualenv, so each tool is asked for
# its version rather than trusted to be there.
hcl2_version="$("$hcl2_bin/python" -c 'import importlib.metadata as m, hcl2; print(m.version("python-hcl2"))')" \
  || die "python-hcl2 does not import from $hcl2_bin/python (delete that virtualenv and rerun)"
checkov_version="$("$checkov_bin/checkov" --version)" \
  || die "checkov does not run from $checkov_bin/checkov (delete that virtualenv and rerun)"
echo "tools: python-hcl2 $hcl2_version, checkov $checkov_version"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step "python-hcl2: every .tf parses"
shopt -s nullglob
tf_files=("$TF_DIR"/*.tf)
(( ${#tf_files[@]} > 0 )) || die "no .tf files in $TF_DIR"
"$hcl2_bin/python" - "${tf_files[@]}" <<'PY'
import sys
import hcl2

bad = 0
for path in sys.argv[1:]:
    try:
        with open(path) as handle:
            hcl2.load(handle)
    except Exception as err:  # any parser error names the file and stops the check
        print(f"hcl2: FAILED {path}: {err}", file=sys.stderr)
        bad += 1
print(f"hcl2: {len(sys.argv) - 1 - bad} of {len(sys.argv) - 1} files parse")
sys.exit(1 if bad else 0)
PY

step "policy: the deployment's own rules"
"$hcl2_bin/python" "$ROOT/scripts/check-terraform-policy.py" "$TF_DIR"

# Prints "passed failed skipped parsing_errors resource_count" for a checkov JSON report.
run_checkov() {
  local dir="$1" out="$2"
  # --skip-download: the machine reaches only package registries; checkov's guideline links
  # are not needed for a verdict.
  nice "$checkov_bin/checkov" -d "$dir" --framework terraform -o json --skip-download \
    >"$out" 2>"$out.err" || true
  jq -e '.summary' "$out" >/dev/null 2>&1 || { cat "$out.err" >&2; die "checkov produced no report for $dir"; }
  jq -r '.summary | "\(.passed) \(.failed) \(.skipped) \(.parsing_errors) \(.resource_count)"' "$out"
}

step "checkov: zero failed checks"
report="$work/checkov.json"
read -r passed failed skipped parse_errors resource_count < <(run_checkov "$TF_DIR" "$report")
printf 'checkov: passed=%s failed=%s skipped=%s parsing_errors=%s resources=%s\n' \
  "$passed" "$failed" "$skipped" "$parse_errors" "$resource_count"
jq -r '.results.failed_checks[]? | "checkov: FAILED \(.check_id) \(.resource) (\(.file_path):\(.file_line_range[0])): \(.check_name)"' "$report" >&2
jq -r '.results.skipped_checks[]? | "checkov: skipped \(.check_id) \(.resource): \(.check_result.suppress_comment)"' "$report"
(( parse_errors == 0 )) || die "checkov could not parse $parse_errors file(s)"
(( resource_count >= 60 )) || die "checkov saw only $resource_count resources: it did not read the configuration"
(( failed == 0 )) || die "checkov: $failed failed check(s)"

# Every skip carries a reason and sits where checkov applied it: the set of (file, check) pairs
# written as comments equals the set checkov reports as skipped.
jq -r '.results.skipped_checks[]? | select((.check_result.suppress_comment // "") | length < 20)
       | "\(.check_id) \(.resource)"' "$report" | grep . >&2 \
  && die "a checkov skip has no written reason (use # checkov:skip=ID:reason)"
written="$(grep -HoE 'checkov:skip=[A-Z0-9_]+' "${tf_files[@]}" | sed -E 's#^.*/([^/:]+):checkov:skip=#\1 #' | sort -u)"
applied="$(jq -r '.results.skipped_checks[]? | "\(.file_path | sub("^.*/"; "")) \(.check_id)"' "$report" | sort -u)"
if [[ "$written" != "$applied" ]]; then
  diff <(printf '%s\n' "$written") <(printf '%s\n' "$applied") >&2 || true
  die "checkov:skip comments (left) do not match the checks checkov skipped (right): a skip outside its resource, or a stale one"
fi
grep -rlE -- '--skip-check|skip-check:' "$TF_DIR" "$ROOT"/.checkov.y*ml 2>/dev/null | grep . >&2 \
  && die "skips belong beside their resource, not in a checkov config"

step "self-test: deliberate regressions must fail both gates"
broken="$work/broken"
cp -r "$TF_DIR" "$broken"
sed -i 's/^  retention_in_days = local.log_retention_days$/  retention_in_days = 365/' "$broken/logging.tf"
sed -i 's/backup_retention_period   = 35/backup_retention_period   = 7/' "$broken/database.tf"
sed -i 's/storage_encrypted     = true/storage_encrypted     = false/' "$broken/database.tf"
sed -i 's/drop_invalid_header_fields = true/drop_invalid_header_fields = false/' "$broken/alb.tf"
sed -i 's/user                   = "65532:65532"/user                   = "0:0"/' "$broken/ecs.tf"
sed -i 's/route_table_id         = aws_route_table.public.id/route_table_id         = aws_route_table.private.id/' "$broken/network.tf"
sed -i '0,/aws_kms_key.main.arn/s//aws_kms_key.mian.arn/' "$broken/secrets.tf"
if policy_out="$("$hcl2_bin/python" "$ROOT/scripts/check-terraform-policy.py" "$broken" 2>&1)"; then
  die "the policy check passed a configuration with regressions"
fi
for expected in "keeps its events 2192 days" "backup_retention_period = 35" "storage_encrypted = true" \
  "runs as 65532:65532" "is not in the private route table" "aws_kms_key.mian is referenced but not declared"; do
  grep -qF "$expected" <<<"$policy_out" || { printf '%s\n' "$policy_out" >&2; die "the policy check missed: $expected"; }
done
echo "policy: each of the 6 regressions is reported"
read -r _ broken_failed _ _ _ < <(run_checkov "$broken" "$work/broken.json")
for expected in CKV_AWS_16 CKV_AWS_131; do # RDS storage encryption, ALB invalid headers
  jq -e --arg id "$expected" '[.results.failed_checks[]? | select(.check_id == $id)] | length > 0' \
    "$work/broken.json" >/dev/null || die "checkov did not flag $expected in the broken copy"
done
echo "checkov: the broken copy fails $broken_failed check(s), unencrypted storage and kept invalid headers among them"

step "terraform checks passed (each skip's reason is printed above)"
echo "checkov: $passed passed, $failed failed, $skipped skipped"
