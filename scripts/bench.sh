#!/usr/bin/env bash
# The benchmark (bench/main.ts) on release builds: builds the native addon in
# release mode, the wasm binding (always release) and the quinn-rust peer
# (crates/bench, release), then runs the harness with the given arguments.
# Usage: npm run bench -- [--quick] [--only names] [--json FILE] [--svg FILE]
# QUICBRIDGE_BENCH_NO_BUILD=1 skips the Rust builds (the harness still checks
# which profile the native addon it loads was built with).
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"

if [ -z "${QUICBRIDGE_BENCH_NO_BUILD:-}" ]; then
  scripts/build-native.sh --release
  scripts/build-wasm.sh
  log "building the quinn-rust peer (release)"
  cargo build --release -p quicbridge-bench
fi
# The harness measures the compiled JavaScript that ships (bench/shipped.ts);
# it takes seconds, so it is rebuilt every time rather than risk a stale one.
log "compiling the TypeScript (dist/)"
npm run --silent build:ts

release="$CARGO_TARGET_DIR/release"
export QUICBRIDGE_BENCH_BIN="${QUICBRIDGE_BENCH_BIN:-$release/quicbridge-bench}"
# Load exactly the release addon, whatever prebuilds/ holds meanwhile. The
# copy is replaced only when it differs, and by a rename: writing over a
# library that a running benchmark has loaded would crash that process.
if [ -z "${QUICBRIDGE_NATIVE_PATH:-}" ] && [ -f "$release/libquicbridge_napi.so" ]; then
  addon="$release/quicbridge-bench-native.node"
  if ! cmp -s "$release/libquicbridge_napi.so" "$addon"; then
    cp "$release/libquicbridge_napi.so" "$addon.tmp.$$"
    mv -f "$addon.tmp.$$" "$addon"
  fi
  export QUICBRIDGE_NATIVE_PATH="$addon"
fi
exec node --import tsx bench/main.ts "$@"
