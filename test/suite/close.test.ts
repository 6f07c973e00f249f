import dgram from 'node:dgram';

import test from 'ava';

import { QuicConnectionError } from '../../lib/index';
import type { QuicError } from '../../lib/index';
import { connectedPair, readAll } from '../helpers/echo';

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
async function portIsFree(port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((resolve) => (bound ? socket.close(() => resolve()) : resolve()));
  return bound;
}

test('closing gives the UDP ports back at once, while the connection and stream objects are still referenced', async (t) => {
  const { server, client, serverSide } = await connectedPair();
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
