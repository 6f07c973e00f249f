/**
 * Random sequences of public API calls with random arguments (property-based,
 * with a seeded generator so that a failing run can be replayed with
 * QUICBRIDGE_API_FUZZ_SEED): listen and connect with mutated options, then
 * streams, datagrams, key updates, rebinding, resets and closes in random
 * order with random values. Every call either works or fails with a
 * QuicError (typed code); nothing crashes the process, and no call hangs.
 */
import { isIP } from 'node:net';

import test from 'ava';

import { connect, listen, type ConnectOptions, type ListenOptions, type QuicConnection, QuicError, type QuicServer, type QuicStream } from '../../lib/index';
import { serverBackend, suiteBackend } from '../helpers/backend';
import { createPki, type TestCa, type TestLeaf } from '../helpers/certs';

const SEQUENCES = Number(process.env.QUICBRIDGE_API_FUZZ_SEQUENCES ?? 60);
const STEPS = 25;

let pki: { ca: TestCa; server: TestLeaf };
test.before(async () => {
  pki = await createPki();
});

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const WEIRD: unknown[] = [
  undefined, null, NaN, Infinity, -Infinity, -1, 0, 1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 62), 2 ** 62, 2 ** 64, '', 'x', 'x'.repeat(5000),
  '\u0000', [], {}, [1, 2], { a: 1 }, true, false, 'always', 'bbr', 'TLS_AES_128_GCM_SHA256', '::1', '256.0.0.1', Buffer.alloc(0),
  Buffer.alloc(70_000),
];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** The valid options with a few fields replaced by random values, or a random field added. */
function mutateOptions<T extends object>(rand: () => number, base: T, extraKeys: string[]): T {
  const out = { ...base } as Record<string, unknown>;
  const keys = [...Object.keys(base), ...extraKeys];
  for (let i = 0, n = Math.floor(rand() * 3); i < n; i++) {
    const key = pick(rand, keys);
    if (key === 'transport') out.transport = { [pick(rand, TRANSPORT_KEYS)]: pick(rand, WEIRD) };
    else out[key] = pick(rand, WEIRD);
  }
  return out as T;
}

const TRANSPORT_KEYS = [
  'idleTimeoutMs', 'keepAliveIntervalMs', 'maxConcurrentBidiStreams', 'maxConcurrentUniStreams', 'streamReceiveWindow',
  'receiveWindow', 'sendWindow', 'initialMtu', 'mtuDiscovery', 'congestionControl', 'datagramReceiveBufferSize', 'datagramSendBufferSize', 'bogus',
];

interface Tally {
  ok: number;
  typed: Map<string, number>;
  untyped: string[];
}

async function attempt(tally: Tally, what: string, call: () => unknown): Promise<unknown> {
  try {
    const value = await Promise.race([
      Promise.resolve().then(call),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} did not settle in 20 s`)), 20_000).unref()),
    ]);
    tally.ok++;
    return value;
  } catch (e) {
    if (e instanceof QuicError) {
      tally.typed.set(e.code, (tally.typed.get(e.code) ?? 0) + 1);
    } else {
      tally.untyped.push(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`.slice(0, 300));
    }
    return undefined;
  }
}

test('random API call sequences: every failure is a typed QuicError', async (t) => {
  t.timeout(600_000);
  const seed = Number(process.env.QUICBRIDGE_API_FUZZ_SEED ?? Math.floor(Math.random() * 0xffffffff));
  // On stderr first: a crash of the worker would lose a t.log.
  process.stderr.write(`api fuzz seed ${seed}\n`);
  const rand = rng(seed);
  const tally: Tally = { ok: 0, typed: new Map(), untyped: [] };
  const baseListen: ListenOptions = {
    address: '127.0.0.1', port: 0, cert: pki.server.chainPem, key: pki.server.keyPem, alpn: ['echo'], backend: serverBackend(),
    transport: { idleTimeoutMs: 5000 },
  };
  const servers: QuicServer[] = [];
  const connections: QuicConnection[] = [];
  // A server that always works, for the clients to reach.
  const anchor = await listen(baseListen, async (connection) => {
    for await (const stream of connection.streams()) {
      stream.on('error', () => undefined);
      stream.pipe(stream);
    }
  });
  servers.push(anchor);
  for (let sequence = 0; sequence < SEQUENCES; sequence++) {
    const streams: QuicStream[] = [];
    const open: QuicConnection[] = [];
    for (let step = 0; step < STEPS; step++) {
      const connection = open.length ? pick(rand, open) : undefined;
      const stream = streams.length ? pick(rand, streams) : undefined;
      const op = Math.floor(rand() * 14);
      switch (op) {
        case 0: {
          const server = (await attempt(tally, 'listen', () => listen(mutateOptions(rand, baseListen, ['retry', 'retryThreshold', 'maxConnections', 'cipherSuites', 'earlyData', 'bogus'])))) as QuicServer | undefined;
          if (server) servers.push(server);
          break;
        }
        case 1:
        case 2: {
          const options = mutateOptions<ConnectOptions>(
            rand,
            {
              host: '127.0.0.1', port: anchor.address.port, servername: 'localhost', ca: pki.ca.certPem, alpn: 'echo', backend: suiteBackend(),
              transport: { idleTimeoutMs: 5000 }, signal: AbortSignal.timeout(5000),
            },
            ['cipherSuites', 'resumption', 'earlyData', 'pinnedSha256', 'family', 'bogus'],
          );
          // Traffic stays on this machine: a host name the mutation put in
          // becomes localhost (resolved from /etc/hosts, no DNS query).
          if (typeof options.host === 'string' && options.host !== '' && !isIP(options.host)) options.host = 'localhost';
          const c = (await attempt(tally, 'connect', () => connect(options))) as QuicConnection | undefined;
          if (c) {
            open.push(c);
            connections.push(c);
          }
          break;
        }
        case 3:
          if (connection) {
            const s = (await attempt(tally, 'openStream', () => connection.openStream({ signal: AbortSignal.timeout(3000) }))) as QuicStream | undefined;
            if (s) {
              s.on('error', () => undefined);
              streams.push(s);
            }
          }
          break;
        case 4:
          if (connection) {
            const s = (await attempt(tally, 'openUniStream', () => connection.openUniStream({ signal: AbortSignal.timeout(3000) }))) as QuicStream | undefined;
            if (s) {
              s.on('error', () => undefined);
              streams.push(s);
            }
          }
          break;
        case 5:
          if (connection) await attempt(tally, 'sendDatagram', () => connection.sendDatagram(pick(rand, WEIRD) as Uint8Array));
          break;
        case 6:
          if (connection) await attempt(tally, 'updateKeys', () => connection.updateKeys());
          break;
        case 7:
          if (connection) await attempt(tally, 'rebind', () => connection.rebind(pick(rand, [undefined, {}, { port: pick(rand, WEIRD) }, { address: pick(rand, WEIRD) }]) as { port?: number }));
          break;
        case 8:
          if (connection) await attempt(tally, 'close', () => connection.close(pick(rand, WEIRD) as number, pick(rand, WEIRD) as string));
          break;
        case 9:
          if (stream) await attempt(tally, 'reset', () => stream.reset(pick(rand, WEIRD) as number));
          break;
        case 10:
          if (stream) await attempt(tally, 'stopSending', () => stream.stopSending(pick(rand, WEIRD) as number));
          break;
        case 11:
          if (stream && !stream.writableEnded && !stream.destroyed) {
            await attempt(tally, 'write', () => void stream.write(Buffer.alloc(Math.floor(rand() * 100_000))));
          }
          break;
        case 12:
          if (stream && !stream.writableEnded) await attempt(tally, 'end', () => void stream.end());
          break;
        default:
          if (connection) await attempt(tally, 'stats', () => connection.stats);
      }
    }
    for (const s of streams) s.destroy();
    await Promise.all(open.map((c) => attempt(tally, 'close (cleanup)', () => c.close(0, 'done'))));
  }
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  const typed = [...tally.typed.entries()].map(([code, n]) => `${code} ${n}`).join(', ');
  t.log(`seed ${seed}: ${tally.ok} calls worked; typed failures: ${typed}`);
  t.deepEqual(tally.untyped, [], `untyped failures (seed ${seed})`);
  t.true(tally.ok > SEQUENCES, 'calls did work');
  t.true(tally.typed.size > 0, 'some calls failed (the arguments were random)');
});
