import test from 'ava';

import { connect, listen, QuicConnectionError, type QuicConnection } from '../../lib/index';
import { createPki } from '../helpers/certs';

async function pair() {
  const { ca, server: leaf } = await createPki();
  let accepted!: (c: QuicConnection) => void;
  const serverSide = new Promise<QuicConnection>((resolve) => (accepted = resolve));
  const server = await listen({ address: '127.0.0.1', port: 0, cert: leaf.chainPem, key: leaf.keyPem, alpn: 'close-test' }, accepted);
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'close-test' });
  return { server, client, serverSide: await serverSide };
}

test('the server sees the code and reason the client closed with', async (t) => {
  const { server, client, serverSide } = await pair();
  const local = await client.close(42, 'client is done');
  t.deepEqual(local, { kind: 'application', code: 42, reason: 'client is done', remote: false });
  t.deepEqual(await serverSide.closed, { kind: 'application', code: 42, reason: 'client is done', remote: true });
  await server.close();
});

test('the client sees the code and reason the server closed with', async (t) => {
  const { server, client, serverSide } = await pair();
  await serverSide.close(7, 'server going away');
  t.deepEqual(await client.closed, { kind: 'application', code: 7, reason: 'server going away', remote: true });
  await server.close();
});

test('closing the server closes its connections', async (t) => {
  const { server, client } = await pair();
  await server.close(3, 'shutdown');
  t.deepEqual(await client.closed, { kind: 'application', code: 3, reason: 'shutdown', remote: true });
});

test('opening a stream on a closed connection fails with the close', async (t) => {
  const { server, client } = await pair();
  await client.close(9, 'bye');
  const error = await t.throwsAsync(client.openStream(), { instanceOf: QuicConnectionError });
  t.is(error?.code, 'ERR_QUIC_CONNECTION_CLOSED');
  t.is(error?.quicCode, 9);
  t.false(error?.remote);
  await server.close();
});

test('the peer stream iterator ends when the connection closes', async (t) => {
  const { server, client, serverSide } = await pair();
  const seen: number[] = [];
  const iteration = (async () => {
    for await (const stream of serverSide.streams()) {
      seen.push(stream.id);
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
