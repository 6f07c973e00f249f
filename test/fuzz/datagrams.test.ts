/**
 * Garbage at a listening endpoint: random datagrams and mutations of real
 * captured packets (every datagram of a few handshakes and a transfer,
 * taken through the relay's tap) are sent straight at a server on this
 * run's server backend. Afterwards the server must still be alive and a
 * clean client must connect and echo 1 MiB byte-exact. A panic that
 * crossed the binding would kill this worker (native) or throw out of the
 * wasm event handler; either fails the run.
 *
 * 200 000 datagrams by default; QUICBRIDGE_LONG_TESTS=1 (.ci/run) sends
 * 1 000 000. QUICBRIDGE_FUZZ_DATAGRAMS overrides both.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import test from 'ava';

import { suiteBackend } from '../helpers/backend';
import { createPki, type TestCa, type TestLeaf } from '../helpers/certs';
import { startEchoServer } from '../helpers/echo';
import { startRelay } from '../helpers/relay';
import { runQuicbridgeClient } from '../peers/quicbridge-peer';

const COUNT = Number(process.env.QUICBRIDGE_FUZZ_DATAGRAMS ?? (process.env.QUICBRIDGE_LONG_TESTS === '1' ? 1_000_000 : 200_000));

let pki: { ca: TestCa; server: TestLeaf };
test.before(async () => {
  pki = await createPki();
});

/** A small seeded generator (xorshift32), so that a failing run can be replayed with its seed. */
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

/** One mutation of a captured packet: bit flips, byte overwrites, truncation, extension, splicing, or header field edits. */
function mutate(seedPackets: Buffer[], rand: () => number): Buffer {
  const int = (n: number) => Math.floor(rand() * n);
  const base = Buffer.from(seedPackets[int(seedPackets.length)]!);
  let out = base;
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(7)) {
      case 0: // flip a few bits
        for (let i = 0, n = 1 + int(8); i < n && out.length; i++) out[int(out.length)]! ^= 1 << int(8);
        break;
      case 1: // overwrite a byte in the header (first 50 bytes)
        if (out.length) out[int(Math.min(50, out.length))] = int(256);
        break;
      case 2: // truncate
        out = out.subarray(0, int(out.length + 1));
        break;
      case 3: // extend with random bytes
        out = Buffer.concat([out, randomBytes(int(64))]);
        break;
      case 4: {
        // splice with another captured packet
        const other = seedPackets[int(seedPackets.length)]!;
        out = Buffer.concat([out.subarray(0, int(out.length + 1)), other.subarray(int(other.length + 1))]);
        break;
      }
      case 5: // a length or connection-ID-length byte set to an extreme
        if (out.length > 5) out[5 + int(Math.min(20, out.length - 5))] = [0, 0xff, 0x3f, 0x40, 0x80, 0xc0][int(6)]!;
        break;
      default: // version field edits on long headers
        if (out.length >= 5 && out[0]! & 0x80) out.writeUInt32BE([0, 1, 0x6b3343cf, 0x0a0a0a0a, int(0xffffffff)][int(5)]!, 1);
    }
  }
  return out.subarray(0, 1500);
}

test('garbage and mutated real packets at a listening endpoint: it survives and a clean client still transfers', async (t) => {
  t.timeout(900_000);
  const backend = suiteBackend();
  const server = await startEchoServer(pki.server);
  const target = { address: '127.0.0.1', port: server.address.port };

  // Seeds: every datagram of real connections (Initial, Handshake, 0.5-RTT,
  // 1-RTT, both directions), captured by the relay.
  const captured: Buffer[] = [];
  const relay = await startRelay({ target, tap: (_entry, data) => captured.length < 2000 && captured.push(Buffer.from(data)) });
  for (let i = 0; i < 3; i++) {
    const r = await runQuicbridgeClient({ backend, port: relay.address.port, ca: pki.ca.certPem, mode: 'echo', bytes: 64 * 1024 });
    t.true(r.ok, `seed connection ${i}: ${r.error ?? ''}`);
  }
  await relay.close();
  t.true(captured.length > 20, `${captured.length} real datagrams captured`);

  const seed = Number(process.env.QUICBRIDGE_FUZZ_SEED ?? Math.floor(Math.random() * 0xffffffff));
  const rand = rng(seed);
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const sockets = [socket];
  // Some datagrams from several source ports, so the server sees many "clients".
  for (let i = 0; i < 7; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    s.on('message', () => undefined);
    sockets.push(s);
  }
  socket.on('message', () => undefined); // whatever the server answers (Version Negotiation, Retry, Initial) is ignored
  let sent = 0;
  let mutated = 0;
  let sendErrors = 0;
  const BATCH = 256;
  while (sent < COUNT) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < BATCH && sent < COUNT; i++, sent++) {
      let datagram: Buffer;
      if (rand() < 0.8) {
        datagram = mutate(captured, rand);
        mutated++;
      } else {
        datagram = randomBytes(Math.floor(rand() * 1400));
      }
      const s = sockets[Math.floor(rand() * sockets.length)]!;
      batch.push(
        new Promise<void>((resolve) =>
          s.send(datagram, target.port, target.address, (err) => {
            if (err) sendErrors++;
            resolve();
          }),
        ),
      );
    }
    await Promise.all(batch);
    // Let an in-process (wasm) server read what arrived before sending more.
    await yieldToLoop();
  }
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));

  // Afterwards: a clean client through nothing but loopback.
  const r = await runQuicbridgeClient({ backend, port: target.port, ca: pki.ca.certPem, mode: 'echo', bytes: 1024 * 1024, timeoutMs: 120_000 });
  t.true(r.ok, `clean client after the fuzzing: ${r.error ?? ''} (seed ${seed})`);
  t.is(r.sha256_echo, r.sha256_sent);
  t.is(r.echoed_bytes, 1024 * 1024);
  t.log(`${sent} datagrams (${mutated} mutations of ${captured.length} captured packets, the rest random; ${sendErrors} send errors), seed ${seed}; then 1 MiB echoed byte-exact`);
  await server.close();
});
