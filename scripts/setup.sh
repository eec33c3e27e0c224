#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, skipping what is already there:
# the wasm32 target, cargo-leptos, wasm-bindgen (the exact version in Cargo.lock), the npm
# packages of end2end/ (wasm-opt via binaryen, Playwright, Lighthouse), Debian's Chromium, HAProxy, wrk,
# testssl.sh and jq, and checkov and python-hcl2 from PyPI.
# Nothing is downloaded from outside the package registries and rustup.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

CARGO_LEPTOS_VERSION=0.3.10

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    step "adding rustup component $component"
    rustup component add "$component"
  fi
done

if [[ "$(cargo leptos --version 2>/dev/null || true)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 11 minutes the first time)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
[[ -n "$WASM_BINDGEN_VERSION" ]] || die "could not read the wasm-bindgen version from Cargo.lock"
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [[ ! -x end2end/node_modules/.bin/wasm-opt || ! -d end2end/node_modules/@playwright/test ]] \
  || ! cmp -s end2end/package-lock.json end2end/node_modules/.package-lock.json.installed; then
  step "installing end2end npm packages (binaryen's wasm-opt, Playwright without browsers, Lighthouse)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp end2end/package-lock.json end2end/node_modules/.package-lock.json.installed
fi

# Debian's packages: Chromium for the browser tests; HAProxy, wrk and testssl.sh for the
# deployment checks (two nodes behind a real proxy under load, the TLS scan, the unit's system
# call filter under strace, systemd-analyze); jq reads JSON.
DEBIAN_PACKAGES=(chromium fonts-dejavu-core haproxy wrk testssl.sh jq socat strace curl python3-venv systemd)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# PyPI tools for the static deployment checks (checkov, python-hcl2), each in a virtualenv
# cached by its pinned version.
source "$ROOT/scripts/py-tools.sh"
py_tool checkov >/dev/null
py_tool hcl2 >/dev/null
