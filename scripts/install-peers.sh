#!/usr/bin/env bash
# Installs the independent QUIC implementations that the interop tests run
# against quicbridge and against each other (see test/peers/). Idempotent,
# and everything lands outside the checkout, under
#   ${QUICBRIDGE_CACHE:-~/.cache/quicbridge}/peers/
# Each peer gets a status file, peers/status/<peer>.json, saying whether it
# is usable, its version and paths, or why it could not be installed: the
# tests report a missing peer as skipped with that reason. One failing peer
# does not stop the others, and the script exits 0 whatever happened.
#
#   aioquic   PyPI wheel in a venv, plus the sdist's examples/http3_{server,client}.py
#   quicgo    test/peers/quicgo built with Go (modules from the Go proxy)
#   ngtcp2    Debian's ngtcp2-server/ngtcp2-client (gtlsserver, gtlsclient; HTTP/3 only)
#   matrixai  @matrixai/quic from npm (a devDependency: npm ci installs it)
#
# ngtcp2's example programs speak HTTP/3 only (ALPN h3). Command lines that
# work with them (version 0.12.1, Debian 12):
#   serve a directory over HTTP/3 (the key comes before the certificate; -q
#   keeps it from dumping every frame; -V would add Retry-based address
#   validation):
#     gtlsserver -q -d DIR 127.0.0.1 PORT KEY.pem CERT.pem
#   GET a URL and save the body as DIR/<last path component>, then exit:
#     gtlsclient -q --exit-on-all-streams-close --download DIR 127.0.0.1 PORT https://localhost:PORT/FILE
#   gtlsclient takes no CA: a certificate from our throwaway CA (in no trust
#   store) is accepted without a word, so it does not verify. Other flags:
#   --key-update=DURATION, --session-file/--tp-file (resumption, 0-RTT),
#   --ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305.
#
# aioquic's HTTP/3 examples (paths in peers/status/aioquic.json), with the
# venv's python; the server imports demo.py from its own directory and serves
# STATIC_ROOT at /:
#   cd EXAMPLES && STATIC_ROOT=DIR python http3_server.py --host 127.0.0.1 --port PORT -c CERT.pem -k KEY.pem
#   python EXAMPLES/http3_client.py --ca-certs CA.pem --output-dir DIR https://localhost:PORT/FILE
# quic-go's (test/peers/quicgo):
#   quicgo-peer h3-server --cert CERT.pem --key KEY.pem --dir DIR     (prints {"port": N})
#   quicgo-peer h3-get --ca CA.pem [--out FILE] https://localhost:PORT/FILE   (prints status, bytes, sha256)
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICBRIDGE_CACHE="${QUICBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quicbridge}"
PEERS="$QUICBRIDGE_CACHE/peers"
STATUS="$PEERS/status"
AIOQUIC_VERSION=1.7.2
# What aioquic's examples/http3_{server,client}.py import besides aioquic.
AIOQUIC_EXAMPLE_DEPS=(wsproto==1.3.2 starlette==1.10.0 jinja2==3.1.6)
mkdir -p "$STATUS"

log() { printf '\033[1m[install-peers]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

# status PEER OK REASON VERSION [KEY=VALUE...]: writes peers/status/PEER.json.
# Node writes the JSON because it is there anyway (the tests run on it) and
# quotes strings properly.
status() {
  local peer=$1 ok=$2 reason=$3 version=$4
  shift 4
  node -e '
    const [file, peer, ok, reason, version, ...kv] = process.argv.slice(1);
    const extra = Object.fromEntries(kv.map((s) => [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)]));
    const status = { peer, ok: ok === "1", reason: reason || undefined, version: version || undefined, ...extra, at: new Date().toISOString() };
    require("fs").writeFileSync(file, JSON.stringify(status, null, 2) + "\n");
  ' "$STATUS/$peer.json" "$peer" "$ok" "$reason" "$version" "$@"
  if [ "$ok" = 1 ]; then log "$peer: ready ($version)"; else log "$peer: NOT installed: $reason"; fi
}

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq || return 1; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_aioquic() {
  local dir="$PEERS/aioquic" py venv="$PEERS/aioquic/venv"
  py="$(command -v python3)" || { status aioquic 0 "python3 not found" ""; return; }
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aioquic' 2>/dev/null \
     || [ "$("$venv/bin/python" -c 'import aioquic; print(aioquic.__version__)')" != "$AIOQUIC_VERSION" ]; then
    log "aioquic: creating a venv in $venv"
    rm -rf "$venv"
    # Debian's python3 needs python3-venv (ensurepip) for this.
    if ! "$py" -m venv "$venv" 2>/dev/null; then
      rm -rf "$venv"
      apt_install python3-venv && "$py" -m venv "$venv" \
        || { status aioquic 0 "cannot create a Python venv (python3-venv missing?)" ""; return; }
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "aioquic==$AIOQUIC_VERSION" \
      || { status aioquic 0 "pip install aioquic==$AIOQUIC_VERSION failed" ""; return; }
  fi
  # The HTTP/3 examples ship in the sdist only, not in the wheel.
  local src="$dir/src/aioquic-$AIOQUIC_VERSION"
  if [ ! -f "$src/examples/http3_server.py" ]; then
    log "aioquic: fetching the sdist for its examples"
    local tmp
    tmp="$(mktemp -d)"
    if "$venv/bin/pip" download -q --disable-pip-version-check --no-binary :all: --no-deps \
         -d "$tmp" "aioquic==$AIOQUIC_VERSION" \
       && mkdir -p "$dir/src" && tar -xzf "$tmp"/aioquic-*.tar.gz -C "$dir/src"; then :; else
      log "aioquic: could not fetch the sdist; the HTTP/3 examples will be missing"
    fi
    rm -rf "$tmp"
  fi
  if ! "$venv/bin/python" -c 'import wsproto, starlette, jinja2' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check "${AIOQUIC_EXAMPLE_DEPS[@]}" \
      || log "aioquic: could not install the examples' dependencies (${AIOQUIC_EXAMPLE_DEPS[*]})"
  fi
  local version
  version="$("$venv/bin/python" -c 'import aioquic; print(aioquic.__version__)')"
  local h3server="" h3client=""
  [ -f "$src/examples/http3_server.py" ] && h3server="$src/examples/http3_server.py"
  [ -f "$src/examples/http3_client.py" ] && h3client="$src/examples/http3_client.py"
  status aioquic 1 "" "$version" "python=$venv/bin/python" "script=$REPO_ROOT/test/peers/aioquic_peer.py" \
    "examples=$src/examples" "http3Server=$h3server" "http3Client=$h3client"
}

install_quicgo() {
  local go bin="$PEERS/quicgo/bin/quicgo-peer" src="$REPO_ROOT/test/peers/quicgo"
  go="$(command -v go)" || { status quicgo 0 "go not found (needs Go 1.21 or newer; go.mod asks for $(sed -n 's/^go //p' "$src/go.mod"), which Go fetches itself)" ""; return; }
  mkdir -p "$(dirname "$bin")"
  # Modules (and, with GOTOOLCHAIN=auto, a newer Go if go.mod needs one)
  # come from the Go module proxy into the cache; go build is incremental,
  # so a rerun with nothing changed is quick.
  export GOMODCACHE="$PEERS/quicgo/mod" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
  log "quicgo: building $bin"
  if ! (cd "$src" && "$go" build -trimpath -o "$bin" . 2>"$PEERS/quicgo/build.log"); then
    status quicgo 0 "go build failed: $(tail -n 3 "$PEERS/quicgo/build.log" | tr '\n' ' ')" ""
    return
  fi
  # go build leaves an up-to-date binary alone; the tests compare its time
  # with the sources' to catch a stale one.
  touch "$bin"
  local version
  version="$(cd "$src" && "$go" list -m -f '{{.Version}}' github.com/quic-go/quic-go) ($("$go" env GOVERSION))"
  status quicgo 1 "" "$version" "bin=$bin"
}

install_ngtcp2() {
  local pkgs=(ngtcp2-server ngtcp2-client) missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || { status ngtcp2 0 "not a Debian system (apt-get missing)" ""; return; }
    log "ngtcp2: installing ${missing[*]}"
    apt_install "${missing[@]}" || { status ngtcp2 0 "apt-get install ${missing[*]} failed" ""; return; }
    # ngtcp2-server also installs a daemon (ngtcp2d, port 7777) that systemd
    # starts where it runs; the tests start their own servers, so stop it.
    if [ -d /run/systemd/system ]; then as_root systemctl disable --now ngtcp2d.service >/dev/null 2>&1 || true; fi
  fi
  local server client version
  server="$(dpkg -L ngtcp2-server | grep -E '/gtlsserver$' | head -n1)"
  client="$(dpkg -L ngtcp2-client | grep -E '/gtlsclient$' | head -n1)"
  version="$(dpkg-query -W -f='${Version}' ngtcp2-client)"
  [ -x "$server" ] && [ -x "$client" ] || { status ngtcp2 0 "gtlsserver/gtlsclient not found in the packages" "$version"; return; }
  status ngtcp2 1 "" "$version" "server=$server" "client=$client" "alpn=h3"
}

install_matrixai() {
  mkdir -p "$PEERS/matrixai"
  local version
  if [ ! -d "$REPO_ROOT/node_modules/@matrixai/quic" ]; then
    log "matrixai: installing npm packages (npm ci)"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund >/dev/null 2>&1) \
      || { status matrixai 0 "npm ci failed" ""; return; }
  fi
  # The native part is an optional dependency with prebuilt binaries for a
  # few platforms only; loading it is the real test.
  # (ESM only, hence import rather than require.)
  if ! (cd "$REPO_ROOT" && node --input-type=module -e 'await import("@matrixai/quic")' 2>"$PEERS/matrixai/load.log"); then
    status matrixai 0 "@matrixai/quic does not load here: $(head -c 300 "$PEERS/matrixai/load.log" | tr '\n' ' ')" ""
    return
  fi
  version="$(cd "$REPO_ROOT" && node -p 'require("@matrixai/quic/package.json").version')"
  status matrixai 1 "" "$version" "script=$REPO_ROOT/test/peers/matrixai-peer.ts"
}

only="${1:-all}"
for peer in aioquic quicgo ngtcp2 matrixai; do
  if [ "$only" = all ] || [ "$only" = "$peer" ]; then "install_$peer" || status "$peer" 0 "installer crashed" ""; fi
done
log "status files: $STATUS"
exit 0
