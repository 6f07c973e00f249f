/**
 * The impairment relay itself, with plain UDP sockets on each side: a
 * "server" that records (and optionally echoes) what reaches it and a
 * "client" that sends through the relay.
 */
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

import test, { type ExecutionContext } from 'ava';

import { type LogEntry, type Relay, type RelayOptions, bytesBeforeValidation, parseQuicHeader, startRelay } from '../helpers/relay';

interface Received {
  data: Buffer;
  from: { address: string; port: number };
  at: number;
}

interface Peer {
  socket: dgram.Socket;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

async function udpPeer(opts: { echo?: boolean; address?: string } = {}): Promise<Peer> {
  const socket = dgram.createSocket('udp4');
  const received: Received[] = [];
  socket.on('message', (data, rinfo) => {
    received.push({ data, from: { address: rinfo.address, port: rinfo.port }, at: performance.now() });
    if (opts.echo) socket.send(data, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, opts.address ?? '127.0.0.1', resolve));
  return {
    socket,
    port: socket.address().port,
    received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A server, a client and a relay between them; everything closed after the test. */
async function setup(
  t: ExecutionContext,
  relayOptions: Omit<RelayOptions, 'target'> = {},
  serverOptions: { echo?: boolean } = {},
): Promise<{ server: Peer; client: Peer; relay: Relay; send: (data: Buffer | string) => void }> {
  const server = await udpPeer(serverOptions);
  const client = await udpPeer();
  const relay = await startRelay({ target: { address: '127.0.0.1', port: server.port }, seed: 1234, ...relayOptions });
  t.teardown(async () => {
    await relay.close();
    await server.close();
    await client.close();
  });
  return { server, client, relay, send: (data) => client.socket.send(data, relay.address.port, relay.address.address) };
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(5);
  }
}

/** Sends `count` numbered datagrams of `size` bytes, `gapMs` apart (0: in one burst). */
async function sendNumbered(send: (b: Buffer) => void, count: number, size = 100, gapMs = 0): Promise<void> {
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(size, 0x2e);
    b.writeUInt32BE(i, 0);
    send(b);
    if (gapMs) await sleep(gapMs);
    // A burst of hundreds would overflow the relay's socket buffer before
    // the relay sees it; that loss is not the one under test.
    else if (i % 20 === 19) await sleep(1);
  }
}

const numbers = (rs: Received[]): number[] => rs.map((r) => r.data.readUInt32BE(0));

test('forwards both ways and logs every datagram', async (t) => {
  const { client, relay, send } = await setup(t, {}, { echo: true });
  send('hello');
  await waitFor(() => client.received.length === 1);
  t.is(client.received[0]?.data.toString(), 'hello');
  t.deepEqual(
    relay.log.map((e) => [e.dir, e.size, e.action]),
    [
      ['toServer', 5, 'forwarded'],
      ['toClient', 5, 'forwarded'],
    ],
  );
  const stats = relay.stats();
  t.is(stats.toServer.forwardedBytes, 5);
  t.is(stats.toClient.forwarded, 1);
  t.is(stats.seed, 1234);
});

test('random loss never drops more in a row than the cap', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { loss: 0.8, maxConsecutiveLoss: 2 } });
  await sendNumbered(send, 300, 50);
  await waitFor(() => relay.log.length === 300);
  await sleep(20);
  let run = 0;
  let longest = 0;
  for (const e of relay.log) {
    run = e.action === 'dropped' ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  t.is(longest, 2);
  const lost = relay.stats().toServer.dropped.loss;
  t.true(lost > 150, `dropped ${lost}`);
  t.is(server.received.length, 300 - lost);
});


test('the cap on drops in a row holds for each client when several share the relay', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { loss: 0.8, maxConsecutiveLoss: 2 } });
  const second = await udpPeer();
  t.teardown(() => second.close());
  const sendSecond = (b: Buffer) => second.socket.send(b, relay.address.port, relay.address.address);
  // Interleaved: with one count for both, either client could lose far more than 2 in a row.
  for (let i = 0; i < 300; i++) {
    (i % 2 ? sendSecond : send)(Buffer.alloc(50, i));
    if (i % 20 === 19) await sleep(1);
  }
  await waitFor(() => relay.log.length === 300);
  const clients = new Set(relay.log.map((e) => e.client));
  t.is(clients.size, 2);
  for (const client of clients) {
    let run = 0;
    let longest = 0;
    for (const e of relay.log.filter((l) => l.client === client)) {
      run = e.action === 'dropped' ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    t.is(longest, 2, client);
  }
  t.true(server.received.length > 0);
});

test('the same seed drops the same datagrams', async (t) => {
  const patterns: string[] = [];
  for (let run = 0; run < 2; run++) {
    const { relay, send } = await setup(t, { seed: 99, toServer: { loss: 0.3 } });
    await sendNumbered(send, 100, 20);
    await waitFor(() => relay.log.length === 100);
    patterns.push(relay.log.map((e) => (e.action === 'dropped' ? 'x' : '.')).join(''));
  }
  t.is(patterns[0], patterns[1]);
  t.true(patterns[0]?.includes('x'));
});

test('drop lists drop exactly the listed datagrams of each direction', async (t) => {
  const { server, client, send } = await setup(t, { toServer: { dropIndices: [0, 2, 5] }, toClient: { dropIndices: [1] } }, { echo: true });
  await sendNumbered(send, 8, 40, 2);
  await waitFor(() => server.received.length === 5 && client.received.length === 4);
  await sleep(30);
  t.deepEqual(numbers(server.received), [1, 3, 4, 6, 7]);
  // The echoes are the server's datagrams 0..4; its second (datagram 3) is dropped.
  t.deepEqual(numbers(client.received), [1, 4, 6, 7]);
});

test('corruption changes exactly one byte within the first 50 and keeps the length', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { corrupt: 1 } });
  const sent: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(i % 2 ? 1200 : 20 + (i % 30));
    for (let j = 0; j < b.length; j++) b[j] = (i * 7 + j) & 0xff;
    sent.push(b);
    send(b);
    // Small bursts: a loopback socket's receive buffer holds only some
    // dozens of datagrams while the event loop is busy elsewhere.
    if (i % 10 === 9) await sleep(1);
  }
  await waitFor(() => server.received.length === 200);
  const offsets = new Set<number>();
  server.received.forEach((r, i) => {
    const orig = sent[i] as Buffer;
    t.is(r.data.length, orig.length);
    const diffs = [...r.data.keys()].filter((k) => r.data[k] !== orig[k]);
    t.is(diffs.length, 1, `datagram ${i}`);
    const off = diffs[0] as number;
    t.true(off < 50 && off < orig.length);
    offsets.add(off);
  });
  t.true(offsets.size > 20, 'offsets spread over the first 50 bytes');
  t.is(relay.stats().toServer.corrupted, 200);
  t.true(relay.log.every((e) => e.corrupted !== undefined));
});

/**
 * The relay's schedule (`dueT`) is checked exactly; when datagrams really
 * went out only from below (a timer never fires more than the scheduler's
 * 0.5 ms early, and on a busy machine it fires late by any amount).
 */
const NEVER_EARLY_MS = 0.5;
const closeTo = (a: number, b: number) => Math.abs(a - b) < 1e-6;

function sentNoEarlierThanDue(t: ExecutionContext, log: readonly LogEntry[]) {
  for (const e of log) {
    if (e.action !== 'forwarded') continue;
    t.true((e.sentT as number) >= (e.dueT as number) - NEVER_EARLY_MS, `datagram ${e.index} sent before it was due`);
  }
}

test('delay holds every datagram back and keeps their order', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { delayMs: 80 } });
  await sendNumbered(send, 50, 200);
  await waitFor(() => server.received.length === 50);
  t.deepEqual(numbers(server.received), [...Array(50).keys()]);
  t.true(relay.log.every((e) => closeTo((e.dueT as number) - e.t, 80)));
  sentNoEarlierThanDue(t, relay.log);
});

test('jitter adds up to jitterMs on top of the delay', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { delayMs: 20, jitterMs: 30 } });
  await sendNumbered(send, 40, 50);
  await waitFor(() => server.received.length === 40);
  const extra = relay.log.map((e) => (e.dueT as number) - e.t);
  t.true(extra.every((x) => x >= 20 && x < 50), extra.join(','));
  t.true(Math.max(...extra) - Math.min(...extra) > 10, 'delays vary');
  sentNoEarlierThanDue(t, relay.log);
});

test('the bandwidth limit paces datagrams and its queue drops the tail', async (t) => {
  // 80 kbit/s = 10 bytes per ms: a 1000-byte datagram takes 100 ms; the queue holds 4.
  const { server, relay, send } = await setup(t, { toServer: { bandwidthBps: 80_000, queueBytes: 4000 } });
  await sendNumbered(send, 20, 1000);
  await waitFor(() => relay.log.length === 20);
  const forwarded = relay.log.filter((e) => e.action === 'forwarded');
  t.is(forwarded.length, 4);
  t.deepEqual(
    forwarded.map((e) => e.index),
    [0, 1, 2, 3],
  );
  t.is(relay.stats().toServer.dropped['queue-full'], 16);
  // Each takes 100 ms of the link once the one before it has gone.
  forwarded.forEach((e, i) => {
    const linkFree = i === 0 ? e.t : Math.max(e.t, (forwarded[i - 1] as LogEntry).dueT as number);
    t.true(closeTo(e.dueT as number, linkFree + 100), `datagram ${i} due at ${e.dueT}, link free at ${linkFree}`);
  });
  await waitFor(() => server.received.length === 4);
  t.deepEqual(numbers(server.received), [0, 1, 2, 3]);
  sentNoEarlierThanDue(t, relay.log);
  // Once the queue drained, datagrams fit again.
  send(Buffer.alloc(1000));
  await waitFor(() => server.received.length === 5);
  t.pass();
});

test('reordering holds a datagram back by N positions', async (t) => {
  const { server, send } = await setup(t, { toServer: { reorder: { indices: [0, 5], byPackets: 2, byMs: 1000 } } });
  await sendNumbered(send, 10, 30, 3);
  await waitFor(() => server.received.length === 10);
  t.deepEqual(numbers(server.received), [1, 2, 0, 3, 4, 6, 7, 5, 8, 9]);
});

test('reordering by time releases a held datagram after byMs', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { reorder: { indices: [0], byPackets: 1000, byMs: 60 } } });
  await sendNumbered(send, 5, 30);
  await waitFor(() => server.received.length === 5);
  t.deepEqual(numbers(server.received), [1, 2, 3, 4, 0]);
  const held = relay.log[0];
  t.true(held?.reordered);
  t.true((held?.sentT as number) - (held?.t as number) >= 59);
});

test('a blackhole window drops everything inside it, both configured and on demand', async (t) => {
  const { server, relay, send } = await setup(t, { toServer: { blackholes: [{ fromMs: 100, toMs: 250 }] } });
  await sendNumbered(send, 20, 20, 20);
  await waitFor(() => relay.log.length === 20);
  for (const e of relay.log) t.is(e.action, e.t >= 100 && e.t < 250 ? 'dropped' : 'forwarded', `at ${e.t}`);
  const dropped = relay.stats().toServer.dropped.blackhole;
  t.true(dropped >= 4, `dropped ${dropped}`);
  t.is(server.received.length, 20 - dropped);

  relay.blackhole(100);
  const before = server.received.length;
  send('lost');
  await sleep(150);
  send('kept');
  await waitFor(() => server.received.length === before + 1);
  t.is(server.received.at(-1)?.data.toString(), 'kept');
});

test('rebinding changes the port, and the address, the server sees', async (t) => {
  const { server, client, relay, send } = await setup(t, {}, { echo: true });
  send('one');
  await waitFor(() => client.received.length === 1);
  const first = server.received[0]?.from;
  t.deepEqual(relay.serverSideEndpoints(), [first]);

  const [rebound] = await relay.rebindClientSide();
  send('two');
  await waitFor(() => client.received.length === 2);
  const second = server.received[1]?.from;
  t.is(second?.address, '127.0.0.1');
  t.not(second?.port, first?.port);
  t.deepEqual(rebound, second);
  t.is(client.received[1]?.data.toString(), 'two', 'the echo to the new port reaches the client');

  await relay.rebindClientSide({ address: '127.0.0.2' });
  send('three');
  await waitFor(() => client.received.length === 3);
  t.is(server.received[2]?.from.address, '127.0.0.2');

  // What the server still sends to an old binding is forwarded by default.
  server.socket.send('late', first?.port as number, first?.address);
  await waitFor(() => client.received.length === 4);
  t.is(client.received[3]?.data.toString(), 'late');
  t.deepEqual(
    [...new Set(relay.log.filter((e) => e.dir === 'toServer').map((e) => e.serverSidePort))].length,
    3,
  );
});

test('each client address gets its own binding towards the server', async (t) => {
  const { server, relay } = await setup(t, {}, { echo: true });
  const a = await udpPeer();
  const b = await udpPeer();
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  a.socket.send('a', relay.address.port, relay.address.address);
  b.socket.send('b', relay.address.port, relay.address.address);
  await waitFor(() => a.received.length === 1 && b.received.length === 1);
  t.is(a.received[0]?.data.toString(), 'a');
  t.is(b.received[0]?.data.toString(), 'b');
  t.is(new Set(server.received.map((r) => r.from.port)).size, 2);
});

// ---------------------------------------------------------------- QUIC headers (RFC 9000 §17)

const varint = (n: number): Buffer => (n < 64 ? Buffer.from([n]) : Buffer.from([0x40 | (n >> 8), n & 0xff]));

/** A long-header packet: first byte, version, DCID, SCID, then per type token/length/payload. */
function longPacket(
  typeBits: number,
  opts: { version?: number; dcid?: Buffer; scid?: Buffer; token?: Buffer; payload?: number } = {},
): Buffer {
  const version = Buffer.alloc(4);
  version.writeUInt32BE(opts.version ?? 1);
  const dcid = opts.dcid ?? Buffer.from('0102030405060708', 'hex');
  const scid = opts.scid ?? Buffer.from('a1a2a3a4', 'hex');
  const first = Buffer.from([0x80 | 0x40 | (typeBits << 4) | 0x01]); // fixed bit, 2-byte packet number
  const head = Buffer.concat([first, version, Buffer.from([dcid.length]), dcid, Buffer.from([scid.length]), scid]);
  if (typeBits === 3 && (opts.version ?? 1) === 1) return Buffer.concat([head, Buffer.alloc(16 + 8, 0x77)]); // Retry: token + tag
  const token = typeBits === 0 ? Buffer.concat([varint(opts.token?.length ?? 0), opts.token ?? Buffer.alloc(0)]) : Buffer.alloc(0);
  const payload = Buffer.alloc(opts.payload ?? 40, 0x55);
  return Buffer.concat([head, token, varint(payload.length), payload]);
}

test('parses QUIC v1 long-header packet types', (t) => {
  t.like(parseQuicHeader(longPacket(0, { token: Buffer.alloc(5) })), { type: 'Initial', version: 1, dcid: '0102030405060708' });
  t.like(parseQuicHeader(longPacket(1)), { type: '0-RTT', version: 1 });
  t.like(parseQuicHeader(longPacket(2)), { type: 'Handshake', version: 1 });
  t.like(parseQuicHeader(longPacket(3)), { type: 'Retry', version: 1 });
});

test('parses short headers, version negotiation, QUIC v2 and unknown versions', (t) => {
  t.deepEqual(parseQuicHeader(Buffer.from([0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9])), { type: '1-RTT', packets: ['1-RTT'] });
  t.is(parseQuicHeader(Buffer.from([0x05, 1, 2, 3])).type, 'unknown', 'no fixed bit');
  const vn = Buffer.concat([Buffer.from([0x80 | 0x2a, 0, 0, 0, 0, 4, 1, 2, 3, 4, 0]), Buffer.from('0000000100000002', 'hex')]);
  t.like(parseQuicHeader(vn), { type: 'VersionNegotiation', version: 0 });
  // RFC 9369: v2 packet types are rotated (Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00).
  t.like(parseQuicHeader(longPacket(1, { version: 0x6b3343cf })), { type: 'Initial', version: 0x6b3343cf });
  t.like(parseQuicHeader(longPacket(3, { version: 0x6b3343cf })), { type: 'Handshake' });
  t.like(parseQuicHeader(longPacket(0, { version: 0x6b3343cf })), { type: 'Retry' });
  t.like(parseQuicHeader(longPacket(0, { version: 0xff00001d })), { type: 'unknown', version: 0xff00001d });
  t.is(parseQuicHeader(Buffer.alloc(0)).type, 'unknown');
});

test('lists coalesced packets in a datagram', (t) => {
  const datagram = Buffer.concat([
    longPacket(0, { token: Buffer.alloc(70), payload: 100 }), // 2-byte varints
    longPacket(2, { payload: 300 }),
    Buffer.from([0x41, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]),
  ]);
  t.deepEqual(parseQuicHeader(datagram).packets, ['Initial', 'Handshake', '1-RTT']);
  t.is(parseQuicHeader(datagram).type, 'Initial');
});

test('the log carries packet types, so tests can find a Retry and count bytes before validation', async (t) => {
  const { server, relay, send } = await setup(t);
  const fromServer = async (datagram: Buffer): Promise<void> => {
    const n = relay.log.length;
    const to = server.received[0]?.from as { address: string; port: number };
    server.socket.send(datagram, to.port, to.address);
    await waitFor(() => relay.log.length === n + 1);
  };
  const fromClient = async (datagram: Buffer): Promise<void> => {
    const n = server.received.length;
    send(datagram);
    await waitFor(() => server.received.length === n + 1);
  };
  // A handshake with Retry, as the datagrams' unprotected headers show it.
  await fromClient(longPacket(0, { payload: 1150 }));
  await fromServer(longPacket(3));
  await fromClient(longPacket(0, { token: Buffer.alloc(24), payload: 1100 }));
  await fromServer(Buffer.concat([longPacket(0, { payload: 200 }), longPacket(2, { payload: 900 })]));
  await fromServer(longPacket(2, { payload: 1100 }));
  await fromClient(longPacket(2, { payload: 50 })); // the client's Handshake validates its address
  await fromServer(Buffer.from([0x41, 1, 2, 3, 4, 5, 6, 7, 8]));
  t.deepEqual(
    relay.log.map((e) => `${e.dir}:${e.packets.join('+')}`),
    [
      'toServer:Initial',
      'toClient:Retry',
      'toServer:Initial',
      'toClient:Initial+Handshake',
      'toClient:Handshake',
      'toServer:Handshake',
      'toClient:1-RTT',
    ],
  );
  t.is(relay.stats().toClient.types.Retry, 1);
  const size = (i: number): number => relay.log[i]?.size ?? 0;
  t.deepEqual(bytesBeforeValidation(relay.log), { toServer: size(0) + size(2), toClient: size(1) + size(3) + size(4) });
});
