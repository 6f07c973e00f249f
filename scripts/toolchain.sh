# shellcheck shell=bash
# Sourced by the build scripts: where caches live and how the wasm32
# toolchain is found. Everything is installed on demand and idempotently;
# nothing here writes inside the checkout except build outputs and the
# patched crate sources that the build reads (patched-crates/, see below).

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICBRIDGE_CACHE="${QUICBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quicbridge}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$QUICBRIDGE_CACHE/target}"
WASM_TARGET_DIR="${CARGO_TARGET_DIR}-wasm"
# napi-derive writes the TypeScript of every #[napi] item here as it
# compiles the addon (scripts/napi-dts.mjs turns it into napi/binding.d.ts).
# Exported for every cargo command the scripts run, clippy included: cargo
# rebuilds the addon whenever this variable changes.
export NAPI_TYPE_DEF_TMP_FOLDER="$CARGO_TARGET_DIR/napi-type-defs"
mkdir -p "$NAPI_TYPE_DEF_TMP_FOLDER"
TOOLS_DIR="$QUICBRIDGE_CACHE/tools"
APT_PACKAGES=(rustc-web cargo-web rust-web-src clang llvm)

log() { printf '\033[1m[quicbridge]\033[0m %s\n' "$*" >&2; }
die() { printf '[quicbridge] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian's Rust (rustc-web) ships the standard library source, which is what
# building std for wasm32 needs: rustup cannot download targets here.
ensure_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

debian_rustc() {
  local rustc
  rustc="$(dpkg -L rustc-web 2>/dev/null | grep -E '^/usr/bin/rustc$' || true)"
  [ -x "$rustc" ] || die "Debian's rustc (package rustc-web) is not installed; run scripts/setup.sh"
  echo "$rustc"
}

debian_cargo() {
  local cargo
  cargo="$(dpkg -L cargo-web 2>/dev/null | grep -E '^/usr/bin/cargo$' || true)"
  [ -x "$cargo" ] || die "Debian's cargo (package cargo-web) is not installed; run scripts/setup.sh"
  echo "$cargo"
}

# Debian's own rust-lld points at an LLVM that bookworm does not ship; the
# rustup toolchain's rust-lld (same LLVM major as rustc-web) links wasm32.
rust_lld() {
  local sysroot lld
  sysroot="$(rustc --print sysroot)"
  lld="$sysroot/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-lld"
  [ -x "$lld" ] || die "rust-lld not found at $lld (it ships with every rustup toolchain)"
  echo "$lld"
}

# The wasm-bindgen CLI must be exactly the version of the crate in Cargo.lock.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$REPO_ROOT/Cargo.lock"
}

ensure_wasm_bindgen() {
  local version root
  version="$(wasm_bindgen_version)"
  [ -n "$version" ] || die "wasm-bindgen is not in Cargo.lock"
  root="$TOOLS_DIR/wasm-bindgen-$version"
  if [ ! -x "$root/bin/wasm-bindgen" ]; then
    log "installing wasm-bindgen-cli $version into $root (once; a few minutes)"
    cargo install wasm-bindgen-cli --version "=$version" --root "$root" --quiet
  fi
  echo "$root/bin/wasm-bindgen"
}

# Cargo.toml's [patch.crates-io] builds these crates from patched-crates/:
# each crates.io release (checksum pinned here, as in a Cargo.lock), with
# patches/<crate>-<version>.patch applied (why: each patch's header).
PATCHED_CRATES=(
  "quinn-proto 0.11.19 0e750cca55fe4f0439a15d0bb529da9651e79993e8e72c61a899a36d462befbe"
  "quinn 0.11.12 4051e23e9185c255a7e33ef59cdbca87a22d359052eecd22fc6b901fb37d9d11"
)

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

ensure_patched_crate() {
  local name=$1 version=$2 sha256=$3
  local patch="$REPO_ROOT/patches/$name-$version.patch"
  local dir="$REPO_ROOT/patched-crates/$name"
  local crate="$QUICBRIDGE_CACHE/crates/$name-$version.crate"
  local stamp
  stamp="$sha256 $(sha256_of "$patch")"
  [ "$(cat "$dir/.patched" 2>/dev/null)" = "$stamp" ] && return
  if [ ! -f "$crate" ] || [ "$(sha256_of "$crate")" != "$sha256" ]; then
    log "downloading $name $version from crates.io (once)"
    mkdir -p "$(dirname "$crate")"
    curl -fsSL --retry 3 -o "$crate.part" "https://static.crates.io/crates/$name/$name-$version.crate"
    [ "$(sha256_of "$crate.part")" = "$sha256" ] ||
      die "$name-$version.crate from crates.io does not have the pinned checksum"
    mv "$crate.part" "$crate"
  fi
  log "patching $name $version into patched-crates/"
  # Unpacked and patched outside the checkout: inside it, git apply would
  # take the patch's paths as relative to the checkout's root.
  local work
  work="$(mktemp -d)"
  tar -xzf "$crate" -C "$work" --strip-components=1
  (cd "$work" && git apply "$patch") || die "$patch does not apply"
  echo "$stamp" >"$work/.patched"
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$work" "$dir"
}

ensure_patched_crates() {
  local entry
  for entry in "${PATCHED_CRATES[@]}"; do
    # shellcheck disable=SC2086 # name, version and checksum, split on purpose
    ensure_patched_crate $entry
  done
}

ensure_patched_crates
