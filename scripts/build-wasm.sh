#!/usr/bin/env bash
# Builds the wasm binding: std for wasm32 from Debian's Rust source
# (build-std), ring's C with clang, link with rust-lld, then wasm-bindgen
# (Node.js CommonJS glue) into wasm/pkg/ and wasm-opt from binaryen.
# The wasm build is always optimized: unoptimized QUIC crypto in wasm is
# too slow to test with.
source "$(dirname "$0")/toolchain.sh"

ensure_apt_packages
rustc_bin="$(debian_rustc)"
cargo_bin="$(debian_cargo)"
lld="$(rust_lld)"
bindgen="$(ensure_wasm_bindgen)"

log "building the wasm binding (release, std built from source)"
RUSTC="$rustc_bin" RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='--cfg getrandom_backend="wasm_js"' \
  CC_wasm32_unknown_unknown=clang AR_wasm32_unknown_unknown=llvm-ar \
  "$cargo_bin" build --manifest-path "$REPO_ROOT/Cargo.toml" -p quicbridge-wasm \
  --target wasm32-unknown-unknown --release -Zbuild-std=std,panic_abort \
  --target-dir "$WASM_TARGET_DIR"

module="$WASM_TARGET_DIR/wasm32-unknown-unknown/release/quicbridge_wasm.wasm"
pkg="$REPO_ROOT/wasm/pkg"
if [ -f "$pkg/.built-from" ] && [ "$(cat "$pkg/.built-from")" = "$(sha256sum "$module" | cut -d' ' -f1)" ]; then
  log "wasm binding: wasm/pkg/ is up to date"
  exit 0
fi
rm -rf "$pkg"
"$bindgen" --target nodejs --out-dir "$pkg" --out-name quicbridge_wasm "$module"

wasm_opt="$REPO_ROOT/node_modules/.bin/wasm-opt"
if [ -x "$wasm_opt" ]; then
  log "optimizing with wasm-opt"
  "$wasm_opt" -O2 --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$pkg/quicbridge_wasm_bg.wasm" -o "$pkg/quicbridge_wasm_bg.wasm"
else
  log "wasm-opt not installed (npm install first); leaving the module unoptimized"
fi
sha256sum "$module" | cut -d' ' -f1 >"$pkg/.built-from"
log "wasm binding: wasm/pkg/ ($(du -h "$pkg/quicbridge_wasm_bg.wasm" | cut -f1))"
