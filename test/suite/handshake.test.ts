import test from 'ava';

import { activeBackend, connect, QuicTlsError } from '../../lib/index';
import { suiteBackend } from '../helpers/backend';
import { createCa, createPki, issueLeaf } from '../helpers/certs';
import { startEchoServer } from '../helpers/echo';

const backend = suiteBackend();

test('the suite runs on the backend it was asked for', (t) => {
  t.is(activeBackend().name, backend);
});

test('handshake verifies the server against the CA and negotiates ALPN', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf, { alpn: ['other', 'echo'] });
  const connection = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: ['echo'] });
  t.is(connection.backend, backend);
  t.is(connection.alpn, 'echo');
  t.is(connection.servername, 'localhost');
  t.deepEqual(connection.remoteAddress, { address: '127.0.0.1', port: server.address.port });
  await connection.close();
  await server.close();
});

test('a server certificate from another CA fails with a TLS error', async (t) => {
  const { server: leaf } = await createPki();
  const otherCa = await createCa('some other CA');
  const server = await startEchoServer(leaf);
  const error = await t.throwsAsync(
    connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: otherCa.certPem, alpn: 'echo' }),
    { instanceOf: QuicTlsError },
  );
  t.is(error?.code, 'ERR_QUIC_TLS');
  t.regex(error?.message ?? '', /UnknownIssuer|unknown/i);
  await server.close();
});

test('a server certificate for another name fails with a TLS error', async (t) => {
  const ca = await createCa();
  const leaf = await issueLeaf(ca, ['elsewhere.example']);
  const server = await startEchoServer(leaf);
  const error = await t.throwsAsync(
    connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' }),
    { instanceOf: QuicTlsError },
  );
  t.is(error?.code, 'ERR_QUIC_TLS');
  t.regex(error?.message ?? '', /NotValidForName|name/i);
  await server.close();
});

test('an ALPN mismatch fails the handshake with a TLS error naming the alert', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const error = await t.throwsAsync(
    connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'h3' }),
    { instanceOf: QuicTlsError },
  );
  t.is(error?.code, 'ERR_QUIC_TLS');
  t.is(error?.tlsAlert, 'no_application_protocol');
  t.true(error?.remote);
  await server.close();
});

test('connecting by host name resolves it and uses it as the server name', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf, { address: '127.0.0.1' });
  const connection = await connect({ host: 'localhost', port: server.address.port, ca: ca.certPem, alpn: 'echo', family: 4 });
  t.is(connection.servername, 'localhost');
  await connection.close();
  await server.close();
});
