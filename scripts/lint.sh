#!/usr/bin/env bash
# Type checks, linters and formatting: tsc (strict), ESLint, rustfmt, clippy
# (the main workspace and the fuzz targets' own).
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"

# test/types/bindings.ts checks lib/ against the declarations the builds
# generate: without them tsc cannot say whether the bindings drifted.
for generated in napi/binding.d.ts wasm/pkg/quicbridge_wasm.d.ts; do
  [ -f "$generated" ] || die "$generated is missing: run \`npm run build\` first (the bindings' type test reads it)"
done
log "tsc --noEmit (with the bindings' type test, test/types/bindings.ts)"
npx tsc --noEmit -p tsconfig.json
log "eslint"
npx eslint .
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "cargo fmt and clippy on the fuzz targets (their own workspace)"
cargo fmt --manifest-path crates/core/fuzz/Cargo.toml --check
cargo clippy --manifest-path crates/core/fuzz/Cargo.toml --locked --all-targets --quiet -- -D warnings
log "workflows"
scripts/check-workflows.sh
