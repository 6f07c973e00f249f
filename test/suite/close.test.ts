import dgram from 'node:dgram';

import test from 'ava';

import { connect, QuicConnectionError } from '../../lib/index';
import type { QuicConnection, QuicError } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { connectedPair, readAll, startEchoServer } from '../helpers/echo';

async function echoOnce(connection: QuicConnection, text: string): Promise<Buffer> {
  const stream = await connection.openStream();
  stream.end(text);
  return readAll(stream);
}

test('the server sees the code and reason the client closed with', async (t) => {
  const { server, client, serverSide } = await connectedPair();
  const local = await client.close(42, 'client is done');
  t.deepEqual(local, { kind: 'application', code: 42, reason: 'client is done', remote: false });
  t.deepEqual(await serverSide.closed, { kind: 'application', code: 42, reason: 'client is done', remote: true });
  await server.close();
});

test('the client sees the code and reason the server closed with', async (t) => {
  const { server, client, serverSide } = await connectedPair();
  await serverSide.close(7, 'server going away');
  t.deepEqual(await client.closed, { kind: 'application', code: 7, reason: 'server going away', remote: true });
  await server.close();
});

test('closing the server closes its connections with its code', async (t) => {
  const { server, client } = await connectedPair();
  await server.close(3, 'shutdown');
  t.deepEqual(await client.closed, { kind: 'application', code: 3, reason: 'shutdown', remote: true });
});

test('opening a stream on a closed connection fails with the close', async (t) => {
  const { server, client } = await connectedPair();
  await client.close(9, 'bye');
  const error = await t.throwsAsync<QuicError>(client.openStream(), { instanceOf: QuicConnectionError });
  t.is(error?.code, 'ERR_QUIC_CONNECTION_CLOSED');
  t.is(error?.quicCode, 9);
  t.false(error?.remote);
  await server.close();
});

test('the peer stream iterator ends when the connection closes', async (t) => {
  const { server, client, serverSide } = await connectedPair();
  const seen: number[] = [];
  const iteration = (async () => {
    for await (const stream of serverSide.streams()) {
      seen.push(stream.id);
      // The client may close before this side has read its FIN.
      stream.on('error', () => {});
      stream.resume();
      stream.end();
    }
  })();
  const stream = await client.openStream();
  stream.end('hello');
  stream.resume();
  await new Promise((resolve) => stream.on('end', resolve));
  await client.close(0, '');
  await iteration;
  t.deepEqual(seen, [0]);
  await server.close();
});

test('an idle connection times out on both sides with kind idleTimeout', async (t) => {
  const transport = { idleTimeoutMs: 300 };
  const { server, client, serverSide } = await connectedPair({ transport }, { transport });
  const [clientClose, serverClose] = await Promise.all([client.closed, serverSide.closed]);
  t.is(clientClose.kind, 'idleTimeout');
  t.is(serverClose.kind, 'idleTimeout');
  const error = await t.throwsAsync<QuicError>(client.openStream());
  t.is(error?.code, 'ERR_QUIC_TIMEOUT');
  await server.close();
});

test('keep-alives hold an otherwise idle connection open past the idle timeout', async (t) => {
  const { server, client, serverSide } = await connectedPair(
    { transport: { idleTimeoutMs: 400 } },
    { transport: { idleTimeoutMs: 400, keepAliveIntervalMs: 100 } },
  );
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const stream = await client.openStream();
  stream.end('still here');
  const accepted = await serverSide.acceptStream();
  t.is((await readAll(accepted)).toString(), 'still here');
  t.is(client.stats.packetsSent > 5, true, 'keep-alive packets were sent');
  await server.close();
});

test('Symbol.asyncDispose closes connections and servers', async (t) => {
  const { server, client, serverSide } = await connectedPair();
  await client[Symbol.asyncDispose]();
  t.like(await serverSide.closed, { kind: 'application', code: 0, remote: true });
  await server[Symbol.asyncDispose]();
  t.is(await server.accept(), null);
});

/** Whether a UDP socket can bind `port` on 127.0.0.1 right now. */
async function portIsFree(port: number, address = '127.0.0.1'): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, address, () => resolve(true));
  });
  await new Promise<void>((resolve) => (bound ? socket.close(() => resolve()) : resolve()));
  return bound;
}

test('closing gives the UDP ports back at once, while the connection and stream objects are still referenced', async (t) => {
  const { server, client, serverSide } = await connectedPair({}, { reuseEndpoint: false });
  const stream = await client.openStream();
  stream.end('bytes');
  const accepted = await serverSide.acceptStream();
  t.is((await readAll(accepted)).toString(), 'bytes');
  const serverPort = server.address.port;
  const clientPort = client.localAddress.port;
  t.false(await portIsFree(serverPort));
  t.false(await portIsFree(clientPort));
  await client.close();
  await server.close();
  t.true(await portIsFree(serverPort), `server port ${serverPort} is free`);
  t.true(await portIsFree(clientPort), `client port ${clientPort} is free`);
  // Used after the checks, so none of them could have been collected: only close() freed the ports.
  t.true(stream.writableFinished);
  t.true(accepted.readableEnded);
  t.like(await serverSide.closed, { kind: 'application', code: 0, remote: true });
});

test('connect() shares one endpoint among connections; its port is given back when the last of them closes', async (t) => {
  // A local address no other test uses, so that only this test's connections share the endpoint.
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const options = { host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', localAddress: '127.0.0.3' };
  const [first, second] = await Promise.all([connect(options), connect(options)]);
  const own = await connect({ ...options, reuseEndpoint: false });
  const port = first.localAddress.port;
  t.is(first.localAddress.address, '127.0.0.3');
  t.is(second.localAddress.port, port, 'the second connection is on the same socket');
  t.not(own.localAddress.port, port, 'reuseEndpoint: false gets a socket of its own');
  await first.close();
  t.false(await portIsFree(port, '127.0.0.3'), 'the endpoint stays while a connection uses it');
  t.is((await echoOnce(second, 'still here')).toString(), 'still here');
  await second.close();
  t.true(await portIsFree(port, '127.0.0.3'), `port ${port} is free once the last connection closed`);
  const third = await connect(options);
  t.is((await echoOnce(third, 'a new endpoint')).toString(), 'a new endpoint');
  await third.close();
  await own.close();
  await server.close();
});
