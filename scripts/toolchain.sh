# shellcheck shell=bash
# Sourced by the build scripts: where caches live and how the wasm32
# toolchain is found. Everything is installed on demand and idempotently;
# nothing here writes inside the checkout except build outputs.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICBRIDGE_CACHE="${QUICBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quicbridge}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$QUICBRIDGE_CACHE/target}"
WASM_TARGET_DIR="${CARGO_TARGET_DIR}-wasm"
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
