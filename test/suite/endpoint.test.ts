import { randomBytes } from 'node:crypto';

import test from 'ava';

import { connect, QuicEndpoint, type QuicConnection } from '../../lib/index';
import { serverBackend, suiteBackend } from '../helpers/backend';
import { createPki } from '../helpers/certs';
import { listenTest, readAll, sha256, startEchoServer } from '../helpers/echo';

function echo(connection: QuicConnection): void {
  void (async () => {
    for await (const stream of connection.streams()) stream.pipe(stream);
  })();
}

async function echoes(connection: QuicConnection, bytes: number): Promise<boolean> {
  const payload = randomBytes(bytes);
  const stream = await connection.openStream();
  stream.end(payload);
  return sha256(await readAll(stream)) === sha256(payload);
}

test('a QuicEndpoint carries many connections on one socket, each echoing byte-exact', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const endpoint = await QuicEndpoint.bind();
  t.is(endpoint.address.address, '127.0.0.1');
  const target = { host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' };
  const connections = await Promise.all(Array.from({ length: 8 }, () => endpoint.connect(target)));
  t.is(endpoint.connectionCount, 8);
  t.true(connections.every((c) => c.localAddress.port === endpoint.address.port));
  await Promise.all(
    connections.map(async (connection) => {
      const payload = randomBytes(128 * 1024);
      const stream = await connection.openStream();
      stream.end(payload);
      t.is(sha256(await readAll(stream)), sha256(payload));
    }),
  );
  // Closing a connection leaves the endpoint to the others (and to new ones).
  await connections[0]!.close();
  const later = await endpoint.connect(target);
  t.is(later.localAddress.port, endpoint.address.port);
  await endpoint.close();
  t.like(await later.closed, { kind: 'application', remote: false });
  await server.close();
});

test('closing a QuicEndpoint closes its connections with its code and reason; it connects no more', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf);
  const accepted = server.accept();
  const endpoint = await QuicEndpoint.bind();
  const client = await endpoint.connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  const serverSide = await accepted;
  await endpoint.close(9, 'endpoint done');
  t.like(await client.closed, { kind: 'application', code: 9, reason: 'endpoint done', remote: false });
  t.like(await serverSide!.closed, { kind: 'application', code: 9, reason: 'endpoint done', remote: true });
  await t.throwsAsync(endpoint.connect({ host: '127.0.0.1', port: server.address.port, ca: ca.certPem, alpn: 'echo' }), {
    code: 'ERR_QUIC_INVALID_STATE',
  });
  await server.close();
});

test('a connection on a QuicEndpoint rebinds only with the endpoint', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const endpoint = await QuicEndpoint.bind();
  const client = await endpoint.connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  await t.throwsAsync(client.rebind(), { code: 'ERR_QUIC_INVALID_STATE', message: /rebind the QuicEndpoint/ });
  await endpoint.close();
  await server.close();
});

test('two QuicEndpoints that both listen connect to each other both ways, each from its one port', async (t) => {
  const { ca, server: leaf } = await createPki();
  const tls = { cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo' };
  const a = await QuicEndpoint.bind({ backend: serverBackend() });
  const b = await QuicEndpoint.bind({ backend: suiteBackend() });
  a.listen(tls, echo);
  b.listen(tls, echo);
  const trust = { servername: 'localhost', ca: ca.certPem, alpn: 'echo' };
  const aToB = await a.connect({ host: '127.0.0.1', port: b.address.port, ...trust });
  const bToA = await b.connect({ host: '127.0.0.1', port: a.address.port, ...trust });
  t.is(aToB.localAddress.port, a.address.port);
  t.is(bToA.localAddress.port, b.address.port);
  t.true(await echoes(aToB, 256 * 1024), 'a → b echoed byte-exact');
  t.true(await echoes(bToA, 256 * 1024), 'b → a echoed byte-exact');
  // Each holds the connection it made and the one it accepted.
  t.is(a.connectionCount, 2);
  t.is(b.connectionCount, 2);
  await Promise.all([a.close(), b.close()]);
});

test('a QuicEndpoint accepts with accept() and for await; closing it ends both', async (t) => {
  const { ca, server: leaf } = await createPki();
  const endpoint = await QuicEndpoint.bind({ backend: serverBackend() });
  endpoint.listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: ['echo'] });
  const target = { host: '127.0.0.1', port: endpoint.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', reuseEndpoint: false };
  const [client, accepted] = await Promise.all([connect(target), endpoint.accept()]);
  t.is(accepted?.alpn, 'echo');
  const second = await connect(target);
  const seen: QuicConnection[] = [];
  let closing: Promise<void> | undefined;
  for await (const connection of endpoint) {
    seen.push(connection);
    closing ??= endpoint.close(7, 'done');
  }
  await closing;
  t.is(seen.length, 1, 'the second connection came through for await');
  t.is(await endpoint.accept(), null);
  t.like(await client.closed, { kind: 'application', code: 7, reason: 'done', remote: true });
  t.like(await second.closed, { kind: 'application', code: 7, reason: 'done', remote: true });
});

test('QuicEndpoint.listen refuses: accept before listen, listen twice, bad options (the endpoint still usable), after close', async (t) => {
  const { server: leaf } = await createPki();
  const endpoint = await QuicEndpoint.bind({ backend: serverBackend() });
  await t.throwsAsync(endpoint.accept(), { code: 'ERR_QUIC_INVALID_STATE', message: /not listening/ });
  t.throws(() => endpoint.listen({ cert: 'not a certificate', key: leaf.keyPem, alpn: 'echo' }), { code: 'ERR_QUIC_INVALID_ARG', message: /cert/ });
  t.throws(() => endpoint.listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo' }, 'handler' as never), { code: 'ERR_QUIC_INVALID_ARG', message: /onConnection/ });
  endpoint.listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo' });
  t.throws(() => endpoint.listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo' }), { code: 'ERR_QUIC_INVALID_STATE', message: /already listening/ });
  await endpoint.close();
  const closed = await QuicEndpoint.bind({ backend: serverBackend() });
  await closed.close();
  t.throws(() => closed.listen({ cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo' }), { code: 'ERR_QUIC_INVALID_STATE', message: /closed/ });
});
