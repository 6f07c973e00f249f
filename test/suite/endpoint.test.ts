import { randomBytes } from 'node:crypto';

import test from 'ava';

import { QuicEndpoint } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { listenTest, readAll, sha256, startEchoServer } from '../helpers/echo';

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
