#!/usr/bin/env bash
# The whole test suite: Rust unit tests, then the one ava suite once per
# backend (QUICBRIDGE_BACKEND picks it), then the cross-backend pairs and the
# loader tests. Builds first (incrementally) so nothing stale is tested.
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"

npm run build
log "Rust unit tests"
cargo test -p quicbridge-core --quiet
for backend in native wasm; do
  log "behaviour suite on the $backend backend"
  QUICBRIDGE_BACKEND=$backend npx ava test/suite
done
log "cross-backend pairs and loader"
npx ava test/cross test/loader
