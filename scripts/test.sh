#!/usr/bin/env bash
# The whole test suite: Rust tests and a short cargo-fuzz run of the core's
# parsers, then the one ava suite (test/suite) four times — native, wasm,
# and the two cross-backend pairs (client on one backend, server on the
# other) — then the agentic-flow surface on each backend, then the loader,
# relay, docs, install and CLI tests.
# Builds first (incrementally) so nothing stale is tested.
source "$(dirname "$0")/toolchain.sh"
cd "$REPO_ROOT"
# A hung test process fails the run after this long instead of stalling CI.
AVA_LIMIT=${QUICBRIDGE_TEST_LIMIT:-20m}

npm run build
log "Rust tests"
cargo test -p quicbridge-core --quiet
# 20 s per target fits CI's budget; without ASan (the core has no unsafe
# code) that is several times the inputs. scripts/fuzz.sh alone runs longer.
QUICBRIDGE_FUZZ_SECONDS="${QUICBRIDGE_FUZZ_SECONDS:-20}" \
  QUICBRIDGE_FUZZ_SANITIZER="${QUICBRIDGE_FUZZ_SANITIZER:-none}" scripts/fuzz.sh
for pair in native:native wasm:wasm native:wasm wasm:native; do
  client=${pair%:*}
  server=${pair#*:}
  log "behaviour suite: $client client, $server server"
  QUICBRIDGE_BACKEND=$client QUICBRIDGE_TEST_SERVER_BACKEND=$server timeout "$AVA_LIMIT" npx ava test/suite
done
for backend in native wasm; do
  log "quicbridge/agentic-flow on $backend"
  QUICBRIDGE_BACKEND=$backend timeout "$AVA_LIMIT" npx ava test/agentic-flow
done
log "loader, impairment relay, API docs, the packed package installed like a user would, and the CLI"
timeout "$AVA_LIMIT" npx ava test/loader test/relay test/docs test/install test/cli
log "interop with independent stacks (peers installed on first use; missing ones are skipped with the reason)"
scripts/install-peers.sh
for backend in native wasm; do
  QUICBRIDGE_BACKEND=$backend timeout "$AVA_LIMIT" npx ava test/interop
done
# Loss and faults through the impairment relay, garbage datagrams at a
# listening endpoint, random API calls and the leak test (QUICBRIDGE_LONG_TESTS=1,
# which .ci/run sets, scales them up: 1 000 000 datagrams; 10 000 connections
# and 100 000 streams).
for backend in native wasm; do
  log "loss, fault and fuzz cases: $backend"
  QUICBRIDGE_BACKEND=$backend QUICBRIDGE_TEST_SERVER_BACKEND=$backend timeout "$AVA_LIMIT" npx ava test/faults test/fuzz
done
