// agentic-flow's advertised claims, each proven on this backend: a real
// TLS 1.3 handshake, 0-RTT on reconnect, 500 concurrent streams on one
// connection, connection migration mid-transfer.
// Serial: the client's session-ticket cache is per process and keyed by
// server name, so another test's connection could replace the ticket the
// 0-RTT test relies on.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';

import test from 'ava';

import { createQuicMessage, type QuicMessage, type QuicStream } from '../../lib/agentic-flow/index';
import { connect, type QuicError } from '../../lib/index';
import { startRelay } from '../helpers/relay';
import { pkiFiles, sha256, startClient, startServer, until } from './helpers';

async function receiveAll(stream: QuicStream): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const chunk = await stream.receive();
    if (chunk.length === 0) return Buffer.concat(chunks);
    chunks.push(chunk);
  }
}

test.serial('a real TLS 1.3 handshake: the server proves its certificate, TLS 1.3 secrets are derived, a wrong CA is refused', async (t) => {
  const { server, port, pki } = await startServer();
  server.on('message', () => {});
  const client = await startClient(port, pki);
  const connection = await client.connect();
  const [leaf] = connection.quic.peerCertificates;
  t.is(leaf?.fingerprint256, new X509Certificate(pki.leaf.certPem).fingerprint256, 'the certificate from certPath');
  t.true(leaf?.checkIssued(new X509Certificate(pki.ca.certPem)));
  t.is(connection.quic.alpn, 'agentic-flow/1');
  await client.sendMessage(connection.id, createQuicMessage('tls', 'status', Buffer.from('over TLS')));

  // The key log names the secrets of the handshake: these labels exist only in TLS 1.3 (TLS 1.2 logs CLIENT_RANDOM).
  const lines: string[] = [];
  const raw = await connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.certPem, alpn: 'agentic-flow/1', keylog: (line) => lines.push(line) });
  await until(() => lines.length, 4, 'key log lines');
  const labels = new Set(lines.map((line) => line.split(' ')[0]));
  for (const label of ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0']) {
    t.true(labels.has(label), label);
  }
  t.false(labels.has('CLIENT_RANDOM'));
  await raw.close();

  const stranger = await pkiFiles(); // another CA: the server's certificate does not chain to it
  const wary = await startClient(port, stranger);
  const refused = await t.throwsAsync<QuicError>(wary.connect());
  t.is(refused?.code, 'ERR_QUIC_TLS');
});

test.serial('0-RTT on reconnect: the second connection sends its message as early data, accepted by the server', async (t) => {
  const { server, pki } = await startServer({ enableEarlyData: true });
  const got: QuicMessage[] = [];
  server.on('message', (message) => void got.push(message));
  // 25 ms each way: the handshake lasts long enough for the message to be written before it completes.
  const relay = await startRelay({ target: server.address, toServer: { delayMs: 25 }, toClient: { delayMs: 25 } });
  try {
    const client = await startClient(relay.address.port, pki, { enableEarlyData: true });
    const first = await client.connect();
    t.is(first.quic.earlyData, 'notAttempted', 'nothing to resume on a first visit');
    await client.sendMessage(first.id, createQuicMessage('first', 'task', Buffer.from('hello'))); // the session ticket comes with the reply
    await client.closeConnection(first.id);
    const before = relay.stats().toServer.types['0-RTT'] ?? 0;

    const second = await client.connect();
    t.not(second.quic, first.quic);
    t.is(second.quic.earlyData, 'pending', 'connect() resolved before the handshake completed');
    const payload = randomBytes(2000);
    await client.sendMessage(second.id, createQuicMessage('early', 'task', payload));
    t.is(await second.quic.handshakeComplete, 'accepted');
    t.true((relay.stats().toServer.types['0-RTT'] ?? 0) - before >= 1, '0-RTT packets on the wire');
    t.deepEqual(got.map((m) => m.id), ['first', 'early']);
    t.is(sha256(got[1]!.payload), sha256(payload));
    await client.shutdown();
  } finally {
    await relay.close();
  }
});

test.serial('500 concurrent streams on one connection, every one byte-exact', async (t) => {
  const count = 500;
  const { server, port, pki } = await startServer({ maxConcurrentStreams: count });
  let open = 0;
  let peak = 0;
  let release!: () => void;
  const allOpen = new Promise<void>((resolve) => (release = resolve));
  const answers: Promise<void>[] = [];
  server.on('stream', (stream) => {
    peak = Math.max(peak, ++open);
    if (open === count) release();
    answers.push(
      (async () => {
        const data = await receiveAll(stream);
        await allOpen; // nobody is answered before all 500 are open at once
        await stream.send(data);
        await stream.close();
      })(),
    );
  });
  const client = await startClient(port, pki, { maxConcurrentStreams: count });
  const connection = await client.connect();
  const payloads = Array.from({ length: count }, (_, i) => randomBytes(512 + i * 7));
  const streams = await Promise.all(payloads.map(() => client.createStream(connection.id)));
  t.is(new Set(streams.map((s) => s.id)).size, count);
  await Promise.all(streams.map(async (stream, i) => (await stream.send(payloads[i]!), await stream.close())));
  const echoed = await Promise.all(streams.map(receiveAll));
  t.deepEqual(echoed.map(sha256), payloads.map(sha256));
  await Promise.all(answers);
  t.is(peak, count, 'the server had all 500 open at the same time');
  t.is(client.getStats().totalConnections, 1);
  t.is(client.getStats().totalStreams, count);
  await client.shutdown();
});

test.serial('connection migration mid-transfer: the client moves to a new port, the transfer completes byte-exact', async (t) => {
  const { server, port, pki } = await startServer();
  const hashes: Promise<string>[] = [];
  server.on('stream', (stream) => {
    hashes.push(
      receiveAll(stream).then(async (data) => {
        const digest = createHash('sha256').update(data).digest('hex');
        await stream.send(Buffer.from(digest));
        await stream.close();
        return digest;
      }),
    );
  });
  const client = await startClient(port, pki);
  const connection = await client.connect();
  const before = connection.quic.localAddress;
  const payload = randomBytes(8 << 20);
  const half = payload.length / 2;
  const stream = await client.createStream(connection.id);
  await stream.send(payload.subarray(0, half));
  const after = await connection.quic.rebind();
  t.not(after.port, before.port);
  await stream.send(payload.subarray(half));
  await stream.close();
  t.is((await receiveAll(stream)).toString(), sha256(payload), 'the server hashed every byte');
  t.is(await hashes[0], sha256(payload));
  // The server's connection follows the client to its new address.
  const serverSide = server.connections[0]!;
  await until(() => serverSide.quic.remoteAddress.port === after.port, true, 'the server to see the new path');
  t.deepEqual(serverSide.quic.remoteAddress, after);
  t.is(client.getStats().totalConnections, 1, 'the same connection throughout');
  await client.shutdown();
});

test.serial('QuicClient connects by host name as well as by IP address', async (t) => {
  const { server, port, pki } = await startServer({ host: 'localhost' });
  const ids: string[] = [];
  server.on('message', (_m, id) => void ids.push(id));
  const client = await startClient(port, pki, { serverHost: 'localhost' });
  const byName = await client.connect();
  t.is(byName.id, `localhost:${port}`);
  await client.sendMessage(byName.id, createQuicMessage('n', 'task', Buffer.from('by name')));
  t.is(ids.length, 1);
  await client.shutdown();
});
