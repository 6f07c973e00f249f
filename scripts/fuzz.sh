#!/usr/bin/env bash
# Coverage-guided fuzzing of the core's parsers with cargo-fuzz (libFuzzer):
# every target in crates/core/fuzz/fuzz_targets/ (or those named as
# arguments) runs for QUICBRIDGE_FUZZ_SECONDS (default 60) each; any crash,
# timeout or property failure fails the script and leaves the input in
# $QUICBRIDGE_CACHE/fuzz/artifacts/.
#
#   QUICBRIDGE_FUZZ_SECONDS    time per target (default 60)
#   QUICBRIDGE_FUZZ_SANITIZER  address (default: also checks the unsafe code
#                              of dependencies) or none (5 to 9 times the
#                              inputs per second here; panics and property
#                              failures are found either way)
#
# The stable toolchain takes cargo-fuzz's -Z flags under RUSTC_BOOTSTRAP=1,
# set for the fuzz build only. cargo-fuzz is installed once into
# $TOOLS_DIR. Nothing is written inside the checkout: builds go to the
# cache, and inputs that reach new coverage are kept in
# $QUICBRIDGE_CACHE/fuzz/corpus/ (each run starts from them and the
# checked-in seeds, which libFuzzer only reads).
source "$(dirname "$0")/toolchain.sh"

CARGO_FUZZ_VERSION=0.13.2
FUZZ_DIR="$REPO_ROOT/crates/core/fuzz"
SECONDS_EACH="${QUICBRIDGE_FUZZ_SECONDS:-60}"
SANITIZER="${QUICBRIDGE_FUZZ_SANITIZER:-address}"
# One build directory per sanitizer: switching would otherwise rebuild all.
FUZZ_TARGET_DIR="$CARGO_TARGET_DIR-cargo-fuzz-$SANITIZER"
WORK="$QUICBRIDGE_CACHE/fuzz"

[[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]] || die "QUICBRIDGE_FUZZ_SECONDS must be a positive number of seconds, got '$SECONDS_EACH'"

cargo_fuzz="$TOOLS_DIR/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz"
if [ ! -x "$cargo_fuzz" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into $(dirname "$(dirname "$cargo_fuzz")") (once; about a minute)"
  cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked \
    --root "$TOOLS_DIR/cargo-fuzz-$CARGO_FUZZ_VERSION" --quiet
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd "$FUZZ_DIR/fuzz_targets" && ls -- *.rs | sed 's/\.rs$//')
fi

# cargo-fuzz has no --locked: check the fuzz crate's lock file first so the
# build cannot rewrite it (it must change with the core's dependencies).
cargo metadata --manifest-path "$FUZZ_DIR/Cargo.toml" --locked --format-version 1 >/dev/null 2>&1 ||
  die "crates/core/fuzz/Cargo.lock is out of date: run 'cargo update --manifest-path crates/core/fuzz/Cargo.toml -p quicbridge-core' and commit it"

log "building fuzz targets (sanitizer: $SANITIZER): ${targets[*]}"
for target in "${targets[@]}"; do
  RUSTC_BOOTSTRAP=1 "$cargo_fuzz" fuzz build --fuzz-dir "$FUZZ_DIR" --sanitizer "$SANITIZER" \
    --target-dir "$FUZZ_TARGET_DIR" "$target"
done

host="$(rustc -vV | sed -n 's/^host: //p')"
failed=()
for target in "${targets[@]}"; do
  binary="$FUZZ_TARGET_DIR/$host/release/$target"
  corpus="$WORK/corpus/$target"
  artifacts="$WORK/artifacts/$target"
  output="$WORK/$target.log"
  mkdir -p "$corpus" "$artifacts"
  log "fuzzing $target for ${SECONDS_EACH}s"
  # The binary rather than `cargo fuzz run`, which creates artifact and
  # corpus directories inside the checkout. New inputs go to the first
  # corpus directory; the checked-in seeds are only read.
  if "$binary" -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$FUZZ_DIR/corpus/$target" >"$output" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$output" >&2 || true
  else
    tail -n 60 "$output" >&2
    log "$target FAILED: input saved under $artifacts/; reproduce with: $binary <that file>"
    failed+=("$target")
  fi
done

[ "${#failed[@]}" -eq 0 ] || die "fuzz targets failed: ${failed[*]} (logs in $WORK/)"
log "fuzzing: ${#targets[@]} targets, ${SECONDS_EACH}s each, no failures"
