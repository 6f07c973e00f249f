#!/usr/bin/env bash
# Sets up a Debian 12 machine to build and test quicbridge from source, and
# builds both backends. Idempotent: reruns only do what is missing.
#   - Debian packages: Rust with its std source (for wasm32), clang, llvm
#   - npm packages (as package-lock.json pins them)
#   - wasm-bindgen-cli pinned to Cargo.lock, cached outside the checkout
#   - the native addon, the wasm module and the TypeScript library
source "$(dirname "$0")/toolchain.sh"

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
command -v node >/dev/null || die "node not found: install Node.js 20 or newer"

ensure_apt_packages
cd "$REPO_ROOT"
# `npm install` rather than `npm ci`: @matrixai/quic (a benchmark and interop
# peer) lists optional prebuilt packages for macOS and Windows that are not
# on the registry, so no lock file can list them and `npm ci` refuses every
# lock file. `npm install` installs exactly what package-lock.json pins and
# skips those.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm install --no-audit --no-fund
fi
# The install test installs the packed package the way a user would, with
# npm --offline: its runtime dependencies' registry metadata must be in the
# npm cache, and installing from package-lock.json stores only tarballs.
log "caching the package's runtime dependencies for offline installs"
node -e 'const d = require("./package.json").dependencies; console.log(Object.entries(d).map(([n, v]) => `${n}@${v}`).join("\n"))' |
  xargs npm cache add --prefer-offline
ensure_wasm_bindgen >/dev/null
npm run build
