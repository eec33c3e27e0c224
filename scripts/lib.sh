# Shared by the project's scripts: paths, PATH, and a step printer.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="$TARGET_DIR/release/server"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The release build (server and split, precompressed WASM bundle), skipped when nothing that goes
# into it changed since the last one: cargo-leptos runs wasm-bindgen and wasm-opt over every
# split module on each call even when cargo had nothing to do, which takes minutes. The stamp
# hashes the sources, the lockfile, the build configuration and the tool versions.
release_inputs_hash() {
  {
    find app/src frontend/src server/src migrations/src style public \
      app/Cargo.toml frontend/Cargo.toml server/Cargo.toml migrations/Cargo.toml \
      Cargo.toml Cargo.lock .cargo/config.toml \
      -type f | LC_ALL=C sort | xargs -d '\n' sha256sum
    cargo leptos --version 2>/dev/null || true
    wasm-bindgen --version 2>/dev/null || true
    wasm-opt --version 2>/dev/null || true
    rustc --version
  } | sha256sum | cut -d' ' -f1
}

build_release() {
  local stamp="$TARGET_DIR/release-build.stamp" hash
  hash="$(release_inputs_hash)"
  if [[ -x "$SERVER_BIN" && -s target/site/pkg/clinic.wasm.br && -s target/site/pkg/__wasm_split_manifest.json \
    && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    echo "release build: up to date with the sources (stamp $TARGET_DIR/release-build.stamp)"
    return 0
  fi
  rm -f "$stamp"
  cargo leptos build --release --split --precompress
  echo "$hash" >"$stamp"
}
