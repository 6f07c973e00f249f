#!/usr/bin/env bash
# The whole test suite: Rust tests, then the one ava suite (test/suite) four
# times — native, wasm, and the two cross-backend pairs (client on one
# backend, server on the other) — then the loader, relay, docs and
# install tests.
# Builds first (incrementally) so nothing stale is tested.
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"
# A hung test process fails the run after this long instead of stalling CI.
AVA_LIMIT=${QUICBRIDGE_TEST_LIMIT:-20m}

npm run build
log "Rust tests"
cargo test -p quicbridge-core --quiet
for pair in native:native wasm:wasm native:wasm wasm:native; do
  client=${pair%:*}
  server=${pair#*:}
  log "behaviour suite: $client client, $server server"
  QUICBRIDGE_BACKEND=$client QUICBRIDGE_TEST_SERVER_BACKEND=$server timeout "$AVA_LIMIT" npx ava test/suite
done
log "loader, impairment relay, API docs, the packed package installed like a user would, and the CLI"
timeout "$AVA_LIMIT" npx ava test/loader test/relay test/docs test/install test/cli
log "interop with independent stacks (peers installed on first use; missing ones are skipped with the reason)"
scripts/install-peers.sh
for backend in native wasm; do
  QUICBRIDGE_BACKEND=$backend timeout "$AVA_LIMIT" npx ava test/interop
done
# Loss and faults through the impairment relay. The 10 MiB cases (blackhole,
# rebinding every second) and the 50 lossy handshakes run only with
# QUICBRIDGE_LONG_TESTS=1 (.ci/run sets it).
for backend in native wasm; do
  log "loss and fault cases: $backend"
  QUICBRIDGE_BACKEND=$backend QUICBRIDGE_TEST_SERVER_BACKEND=$backend timeout "$AVA_LIMIT" npx ava test/faults
done
