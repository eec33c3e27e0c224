#!/usr/bin/env bash
# Python tools the deployment checks use, each in its own virtualenv under the shared cache,
# named by its pinned requirements so that a version change makes a fresh one. Sourced:
#   source scripts/py-tools.sh; checkov="$(py_tool checkov)"; hcl2="$(py_tool hcl2)"
# (checkov ships its own fork of python-hcl2 under the same module name, so the two never share
# a virtualenv.)
PY_TOOLS_CACHE="${PY_TOOLS_CACHE:-$HOME/.cache/clinic/venv}"

py_tool_requirements() {
  case "$1" in
    checkov) echo "checkov==3.3.30" ;;
    hcl2) echo "python-hcl2==8.1.4" ;;
    *) echo "unknown python tool $1" >&2; return 1 ;;
  esac
}

# Prints the virtualenv's bin directory, creating the virtualenv first when it is missing.
py_tool() {
  local name="$1" reqs dir
  reqs="$(py_tool_requirements "$name")" || return 1
  dir="$PY_TOOLS_CACHE/$name-$(printf '%s' "$reqs" | sha256sum | cut -c1-12)"
  if [[ ! -x "$dir/.ready" ]]; then
    printf '\n\033[1m==> installing %s into %s\033[0m\n' "$reqs" "$dir" >&2
    rm -rf "$dir"
    # Each step returns on failure itself: under `x="$(py_tool ...)" || die`, set -e is off here.
    python3 -m venv "$dir" >&2 || return 1
    # shellcheck disable=SC2086
    "$dir/bin/pip" install --quiet --disable-pip-version-check $reqs >&2 || return 1
    printf '#!/bin/sh\n' >"$dir/.ready" && chmod +x "$dir/.ready"
  fi
  printf '%s/bin\n' "$dir"
}
