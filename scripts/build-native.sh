#!/usr/bin/env bash
# Builds the napi addon and places it where node-gyp-build looks for it:
# prebuilds/<platform>-<arch>/quicbridge.napi.<libc>.node
# Usage: scripts/build-native.sh [--release]
source "$(dirname "$0")/toolchain.sh"

profile=dev
out=debug
if [ "${1:-}" = "--release" ]; then profile=release; out=release; fi

log "building the native addon ($profile)"
# A build that compiled nothing wrote no type definitions; should none be
# there (a cache from before they were kept), make cargo compile the addon.
if [ ! -s "$NAPI_TYPE_DEF_TMP_FOLDER/quicbridge-napi" ]; then
  export NAPI_FORCE_BUILD_QUICBRIDGE_NAPI="$(date +%s)"
fi
cargo build --manifest-path "$REPO_ROOT/Cargo.toml" -p quicbridge-napi --profile "$profile"
node "$REPO_ROOT/scripts/napi-dts.mjs" "$NAPI_TYPE_DEF_TMP_FOLDER" "$REPO_ROOT/napi/binding.d.ts"

case "$(uname -s)" in
  Linux) platform=linux; lib=libquicbridge_napi.so ;;
  Darwin) platform=darwin; lib=libquicbridge_napi.dylib ;;
  MINGW* | MSYS* | CYGWIN*) platform=win32; lib=quicbridge_napi.dll ;;
  *) die "unsupported build platform $(uname -s)" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "unsupported build architecture $(uname -m)" ;;
esac
tags=napi
if [ "$platform" = linux ]; then
  if ldd --version 2>&1 | grep -qi musl; then tags="$tags.musl"; else tags="$tags.glibc"; fi
fi
dest="$REPO_ROOT/prebuilds/$platform-$arch"
mkdir -p "$dest"
cp "$CARGO_TARGET_DIR/$out/$lib" "$dest/quicbridge.$tags.node"
log "native addon: prebuilds/$platform-$arch/quicbridge.$tags.node"
