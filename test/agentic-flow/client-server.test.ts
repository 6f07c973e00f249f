// QuicClient and QuicServer: a server that really binds UDP, connections by
// host:port, data streams whose send/receive/close move real bytes, and
// statistics that follow the bytes moved.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

import test from 'ava';

import { createQuicMessage, QuicClient, QuicServer, type QuicMessage, type QuicStream } from '../../lib/agentic-flow/index';
import type { QuicError } from '../../lib/index';
import { serverBackend } from '../helpers/backend';
import { pkiFiles, sha256, startClient, startServer, until } from './helpers';

/** Everything the peer sends on `stream`, until it finishes. */
async function receiveAll(stream: QuicStream): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const chunk = await stream.receive();
    if (chunk.length === 0) return Buffer.concat(chunks);
    chunks.push(chunk);
  }
}

/** A server whose data streams echo what they receive, once the client has finished. */
async function echoServer(config = {}) {
  const started = await startServer(config);
  started.server.on('stream', (stream) => {
    void (async () => {
      const data = await receiveAll(stream);
      await stream.send(data);
      await stream.close();
    })();
  });
  return started;
}

test('listen() really binds a UDP socket: the port is taken, and a second server on it fails', async (t) => {
  const { server, port, pki } = await startServer();
  t.true(port > 0);
  t.deepEqual(server.address, { address: '127.0.0.1', port });
  const socket = dgram.createSocket('udp4');
  const bindError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    socket.once('error', resolve);
    socket.bind(port, '127.0.0.1', () => resolve(undefined));
  });
  socket.close();
  t.is(bindError?.code, 'EADDRINUSE');
  const second = new QuicServer({ host: '127.0.0.1', port, certPath: pki.certPath, keyPath: pki.keyPath, backend: serverBackend() });
  await second.initialize();
  await t.throwsAsync(second.listen());
});

test('nothing works before initialize(): a typed error, not a silent no-op', async (t) => {
  const pki = await pkiFiles();
  const server = new QuicServer({ host: '127.0.0.1', port: 0, certPath: pki.certPath, keyPath: pki.keyPath });
  t.is((await t.throwsAsync<QuicError>(server.listen()))?.code, 'ERR_QUIC_INVALID_STATE');
  const client = new QuicClient({ caPath: pki.caPath });
  t.is((await t.throwsAsync<QuicError>(client.connect('127.0.0.1', 4433)))?.code, 'ERR_QUIC_INVALID_STATE');
});

test('createStream: send, receive and close move real bytes both ways (4 MiB, hashed)', async (t) => {
  const { port, pki } = await echoServer();
  const client = await startClient(port, pki);
  const connection = await client.connect();
  t.is(connection.id, `127.0.0.1:${port}`);
  t.is(connection.quic.alpn, 'agentic-flow/1');
  const stream = await client.createStream(connection.id);
  t.true(Number.isInteger(stream.id));
  t.is(stream.connectionId, connection.id);
  const payload = randomBytes(4 << 20);
  for (let offset = 0; offset < payload.length; offset += 1 << 20) await stream.send(payload.subarray(offset, offset + (1 << 20)));
  t.is(connection.streamCount, 1);
  await stream.close();
  const echoed = await receiveAll(stream);
  t.is(sha256(echoed), sha256(payload));
  t.is((await stream.receive()).length, 0, 'the end stays the end');
  await until(() => connection.streamCount === 0);
});

test('many streams at once on one connection, each byte-exact', async (t) => {
  const { port, pki } = await echoServer();
  const client = await startClient(port, pki);
  const { id } = await client.connect();
  const payloads = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 5000));
  const results = await Promise.all(
    payloads.map(async (payload) => {
      const stream = await client.createStream(id);
      await stream.send(payload);
      await stream.close();
      return sha256(await receiveAll(stream));
    }),
  );
  t.deepEqual(results, payloads.map(sha256));
  t.is(client.getStats().totalConnections, 1);
});

test('connect() reuses the open connection to the same host:port; maxConnections is enforced', async (t) => {
  const a = await echoServer();
  const b = await startServer({}, a.pki);
  const client = await startClient(a.port, a.pki, { maxConnections: 1 });
  const first = await client.connect();
  const again = await client.connect('127.0.0.1', a.port);
  t.is(again, first);
  t.is(again.quic, first.quic);
  const limit = await t.throwsAsync<QuicError>(client.connect('127.0.0.1', b.port));
  t.is(limit?.code, 'ERR_QUIC_LIMIT');
  t.regex(limit?.message ?? '', /maxConnections/);
  await client.closeConnection(first.id);
  await t.notThrowsAsync(client.connect('127.0.0.1', b.port));
});

test('closeConnection ends the connection on both sides; the id is then refused', async (t) => {
  const { server, port, pki } = await echoServer();
  const disconnected: string[] = [];
  server.on('disconnect', (id) => void disconnected.push(id));
  const client = await startClient(port, pki);
  const connection = await client.connect();
  await until(() => server.connections.length === 1);
  const serverId = server.connections[0]!.id;
  t.is(serverId, `127.0.0.1:${connection.quic.localAddress.port}`);
  await client.closeConnection(connection.id);
  t.is((await connection.quic.closed).kind, 'application');
  await until(() => disconnected.length === 1);
  t.deepEqual(disconnected, [serverId]);
  const error = await t.throwsAsync<QuicError>(client.createStream(connection.id));
  t.is(error?.code, 'ERR_QUIC_INVALID_ARG');
  await t.notThrowsAsync(client.closeConnection('unknown:1'), 'an unknown id is a no-op');
});

test('the server opens streams and pushes messages to a client; the client takes them as events', async (t) => {
  const { server, port, pki } = await startServer();
  const client = await startClient(port, pki);
  const received: QuicMessage[] = [];
  client.on('message', (message) => void received.push(message));
  const streams: Promise<Buffer>[] = [];
  client.on('stream', (stream) => void streams.push(receiveAll(stream)));
  await client.connect();
  await until(() => server.connections.length === 1);
  const id = server.connections[0]!.id;
  await server.sendMessage(id, createQuicMessage('push', 'status', Buffer.from('from the server'), { n: 1 }));
  t.is(received.length, 1, 'acknowledged after the client took it');
  t.is(Buffer.from(received[0]!.payload).toString(), 'from the server');
  const payload = randomBytes(300_000);
  const stream = await server.createStream(id);
  await stream.send(payload);
  await stream.close();
  await until(() => streams.length === 1);
  t.is(sha256(await streams[0]!), sha256(payload));
});

test('getStats: real bytes, RTT and loss counts, consistent with the bytes moved, kept after connections close', async (t) => {
  const { server, port, pki } = await startServer();
  const received: Promise<Buffer>[] = [];
  server.on('stream', (stream) => void received.push(receiveAll(stream).then(async (data) => (await stream.close(), data))));
  const client = await startClient(port, pki);
  t.deepEqual(client.getStats(), { totalConnections: 0, activeConnections: 0, totalStreams: 0, activeStreams: 0, bytesReceived: 0, bytesSent: 0, packetsLost: 0, rttMs: 0 });
  const { id } = await client.connect();
  const size = 8 << 20;
  const stream = await client.createStream(id);
  await stream.send(randomBytes(size));
  await stream.close();
  await until(() => received.length === 1);
  t.is((await received[0]!).length, size);
  await receiveAll(stream);
  const sent = client.getStats();
  const serverStats = server.getStats();
  t.like(sent, { totalConnections: 1, activeConnections: 1, totalStreams: 1 });
  // UDP payload bytes: the data plus headers, encryption, acknowledgements and any retransmissions.
  t.true(sent.bytesSent >= size && sent.bytesSent < size * 1.2 + 100_000, `client sent ${sent.bytesSent} for ${size}`);
  t.true(serverStats.bytesReceived >= size && serverStats.bytesReceived <= sent.bytesSent, `server received ${serverStats.bytesReceived}`);
  t.true(sent.bytesReceived > 0 && sent.bytesReceived < size / 10, `acknowledgements: ${sent.bytesReceived}`);
  t.true(sent.rttMs > 0, `rtt ${sent.rttMs}`);
  t.true(Number.isInteger(sent.packetsLost) && sent.packetsLost >= 0);
  t.is(serverStats.totalStreams, 1);
  await client.closeConnection(id);
  const after = client.getStats();
  t.like(after, { totalConnections: 1, activeConnections: 0, activeStreams: 0, totalStreams: 1 });
  t.true(after.bytesSent >= sent.bytesSent, 'the closed connection still counts');
  t.true(after.rttMs > 0, 'the last RTT measured');
});

test('stop() closes every connection with its reason; the server can listen again', async (t) => {
  const { server, port, pki } = await echoServer();
  const client = await startClient(port, pki);
  const connection = await client.connect();
  // Once the server has the connection: a close during the handshake can carry no reason (RFC 9000 §10.2.3).
  await until(() => server.connections.length === 1);
  await server.stop();
  const info = await connection.quic.closed;
  t.like(info, { kind: 'application', reason: 'server stopping', remote: true });
  t.deepEqual(server.connections, []);
  t.is(t.throws<QuicError>(() => server.address)?.code, 'ERR_QUIC_INVALID_STATE');
  await server.listen(); // port 0 again: a fresh one
  const again = await startClient(server.address.port, pki);
  await t.notThrowsAsync(again.connect());
});

test('streamTimeout: a receive() that nothing answers fails with ERR_QUIC_TIMEOUT', async (t) => {
  const { server, port, pki } = await startServer();
  server.on('stream', () => {}); // takes the stream, never answers
  const client = await startClient(port, pki, { streamTimeout: 300 });
  const { id } = await client.connect();
  const stream = await client.createStream(id);
  await stream.send(Buffer.from('anyone?'));
  const error = await t.throwsAsync<QuicError>(stream.receive());
  t.is(error?.code, 'ERR_QUIC_TIMEOUT');
  t.regex(error?.message ?? '', /streamTimeout/);
});

test('connectionTimeout: connecting to a silent port fails with ERR_QUIC_TIMEOUT', async (t) => {
  const pki = await pkiFiles();
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  const client = await startClient(silent.address().port, pki, { connectionTimeout: 400 });
  const error = await t.throwsAsync<QuicError>(client.connect());
  t.is(error?.code, 'ERR_QUIC_TIMEOUT');
  t.regex(error?.message ?? '', /connectionTimeout/);
  silent.close();
});
