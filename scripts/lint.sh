#!/usr/bin/env bash
# Type checks, linters and formatting: tsc (strict), ESLint, rustfmt, clippy
# (the main workspace and the fuzz targets' own).
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"

log "tsc --noEmit"
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
