/**
 * Leaks: many connections and many streams opened and closed against one
 * server on this run's backends; afterwards the server holds no connection
 * and the process's active handles, JavaScript heap, wasm memory and RSS
 * are back near where they were.
 *
 * Tolerance: the baseline is taken after a warm-up round (a tenth of the
 * work), so allocator pools, JIT code and the wasm memory's high-water mark
 * already exist. After the full run and a GC:
 * - active handles: exactly the baseline's;
 * - JavaScript heap in use: at most +4 MiB (a leak of 400 bytes per
 *   connection over 10 000 connections would exceed it);
 * - RSS: at most +64 MiB (V8 keeps heap pages and the native allocator
 *   freed memory; a leak of 1 KiB per connection and per stream over
 *   10 000 connections and 100 000 streams would be ~110 MiB).
 * External memory (Buffers, and wasm's linear memory) is logged, not
 * checked: wasm's memory never shrinks, and its peak follows when V8
 * collects the JavaScript wrappers that own Rust objects (a closed
 * connection's state is freed when its last wrapper is), not how much is
 * leaked. What wasm still holds at the end shows in RSS, as its pages stay
 * resident.
 *
 * Scale: 1 000 connections (half on the endpoint connect() shares, half on
 * endpoints of their own) and 10 000 streams by default; with
 * QUICBRIDGE_LONG_TESTS=1 (CI), 10 000 connections and 100 000 streams
 * (QUICBRIDGE_LEAK_CONNECTIONS / QUICBRIDGE_LEAK_STREAMS override).
 *
 * What this found: on wasm, every endpoint stayed alive (its socket held the
 * host's send function, which held the JavaScript endpoint: a cycle through
 * wasm-bindgen's table of JavaScript references that no GC can break), and
 * on native, quinn's 3 MiB per-endpoint receive buffers stayed resident
 * through glibc (napi/src/allocator.rs).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import test from 'ava';

import { connect, type QuicConnection } from '../../lib/index';
import { suiteBackend } from '../helpers/backend';
import { createPki, type TestCa, type TestLeaf } from '../helpers/certs';
import { listenTest } from '../helpers/echo';

const LONG = process.env.QUICBRIDGE_LONG_TESTS === '1';
const CONNECTIONS = Number(process.env.QUICBRIDGE_LEAK_CONNECTIONS ?? (LONG ? 10_000 : 1_000));
const STREAMS = Number(process.env.QUICBRIDGE_LEAK_STREAMS ?? (LONG ? 100_000 : 10_000));
const MiB = 1024 * 1024;
const TOLERANCE = { heapUsed: 4 * MiB, rss: 64 * MiB };
/** Connections made at once; the server accepts this many and more. */
const AT_ONCE = 20;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let pki: { ca: TestCa; server: TestLeaf };
test.before(async () => {
  pki = await createPki();
});

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;

function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, handles: handles() };
}

test.serial(`${CONNECTIONS} connections and ${STREAMS} streams opened and closed: no connection, handle or memory left behind`, async (t) => {
  t.timeout(1_800_000);
  const server = await listenTest(pki.server, { maxConnections: 10 * AT_ONCE }, async (connection) => {
    for await (const stream of connection.streams()) {
      stream.on('error', () => undefined);
      stream.pipe(stream);
    }
  });
  const initialHandles = handles();
  const options = { host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: pki.ca.certPem, alpn: 'echo', backend: suiteBackend() };

  /** Runs `task` `count` times, `width` at once (each worker starts its next when its last ends). */
  async function pool(count: number, width: number, task: () => Promise<void>): Promise<void> {
    let started = 0;
    await Promise.all(
      Array.from({ length: Math.min(width, count) }, async () => {
        while (started < count) {
          started++;
          await task();
        }
      }),
    );
  }
  /** `count` connections: on the endpoint connect() shares, or each on an endpoint of its own (and its receive buffer). */
  async function connections(count: number, reuseEndpoint: boolean): Promise<void> {
    await pool(count, AT_ONCE, async () => {
      // A client endpoint drains, holding its socket, after close() has
      // resolved; were new connections not to wait for them, how many
      // endpoints are alive at once (and the peak memory) would depend on
      // how fast the machine drains.
      while (handles() > initialHandles + 2 * AT_ONCE) await new Promise((resolve) => setTimeout(resolve, 5));
      const c = await connect({ ...options, reuseEndpoint });
      const s = await c.openStream();
      s.end(Buffer.from('ping'));
      for await (const _ of s) void _;
      await c.close();
    });
  }
  async function streams(count: number): Promise<void> {
    const c: QuicConnection = await connect({ ...options, transport: { maxConcurrentBidiStreams: 100 } });
    await pool(count, 100, async () => {
      const s = await c.openStream();
      s.end(Buffer.alloc(32, 1));
      let n = 0;
      for await (const chunk of s) n += (chunk as Buffer).length;
      if (n !== 32) throw new Error(`echoed ${n} bytes`);
    });
    await c.close();
  }
  /** GC until the sockets of the client endpoints closed last are released too (they drain after close() resolves). */
  async function quiesce(): Promise<void> {
    for (let i = 0; i < 100 && handles() > initialHandles; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    await settle();
  }

  // Warm-up, then the baseline.
  await connections(CONNECTIONS / 10, true);
  await connections(CONNECTIONS / 10, false);
  await streams(STREAMS / 10);
  await quiesce();
  const base = memory();

  await connections(CONNECTIONS / 2, true);
  await connections(CONNECTIONS / 2, false);
  await streams(STREAMS);
  for (let i = 0; i < 100 && server.connectionCount > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  await quiesce();
  const after = memory();
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  for (const key of ['rss', 'heapUsed'] as const) {
    t.log(`${key}: ${mib(base[key])} -> ${mib(after[key])} (tolerance +${mib(TOLERANCE[key])})`);
  }
  t.log(`external: ${mib(base.external)} -> ${mib(after.external)} (not checked)`);
  t.log(`active handles: ${base.handles} -> ${after.handles}`);
  t.is(server.connectionCount, 0, 'the server holds no connection');
  t.is(after.handles, base.handles, 'active handles back at the baseline');
  for (const key of ['rss', 'heapUsed'] as const) {
    t.true(after[key] <= base[key] + TOLERANCE[key], `${key} grew by ${mib(after[key] - base[key])}`);
  }
  await server.close();
});
