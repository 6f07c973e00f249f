/**
 * `cipherSuites` restricts the TLS 1.3 suites a side offers (client) or
 * accepts (server). QUIC's Initial packets stay on AES-128-GCM whatever is
 * chosen (RFC 9001 §5.2), so a ChaCha20-only configuration still connects.
 * Which suite was negotiated is not visible through quinn; the interop
 * matrix (test/interop) reads it from aioquic and quic-go.
 */
import test from 'ava';

import { connect, type CipherSuite, type ConnectOptions, QuicTlsError } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { readAll, startEchoServer } from '../helpers/echo';

const CHACHA: CipherSuite[] = ['TLS_CHACHA20_POLY1305_SHA256'];

async function attempt(server: CipherSuite[] | undefined, client: CipherSuite[] | undefined) {
  const { ca, server: leaf } = await createPki();
  const echo = await startEchoServer(leaf, { cipherSuites: server });
  const options: ConnectOptions = { host: '127.0.0.1', port: echo.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', cipherSuites: client };
  return { echo, connecting: connect(options) };
}

test('a ChaCha20-only server and a default client connect and move data', async (t) => {
  const { echo, connecting } = await attempt(CHACHA, undefined);
  const client = await connecting;
  const stream = await client.openStream();
  stream.end('chacha');
  t.is((await readAll(stream)).toString(), 'chacha');
  await client.close();
  await echo.close();
});

test('a ChaCha20-only client and a ChaCha20-only server connect', async (t) => {
  const { echo, connecting } = await attempt(CHACHA, CHACHA);
  const client = await connecting;
  t.is(client.alpn, 'echo');
  await client.close();
  await echo.close();
});

test('no common cipher suite: the handshake fails with a typed TLS error', async (t) => {
  for (const [server, client] of [
    [CHACHA, ['TLS_AES_128_GCM_SHA256']],
    [['TLS_AES_256_GCM_SHA384'], CHACHA],
  ] as [CipherSuite[], CipherSuite[]][]) {
    const { echo, connecting } = await attempt(server, client);
    const error = await t.throwsAsync(connecting, { instanceOf: QuicTlsError }, `server ${server.join()}, client ${client.join()}`);
    t.is(error?.code, 'ERR_QUIC_TLS');
    t.is(error?.tlsAlert, 'handshake_failure');
    await echo.close();
  }
});

test('cipherSuites is checked on both sides', async (t) => {
  const { ca, server: leaf } = await createPki();
  for (const bad of [[], ['TLS_RSA_WITH_RC4_128_SHA'], 'TLS_AES_128_GCM_SHA256', [1]]) {
    await t.throwsAsync(startEchoServer(leaf, { cipherSuites: bad as CipherSuite[] }), { code: 'ERR_QUIC_INVALID_ARG' });
    await t.throwsAsync(
      connect({ host: '127.0.0.1', port: 9, servername: 'localhost', ca: ca.certPem, alpn: 'echo', cipherSuites: bad as CipherSuite[] }),
      { code: 'ERR_QUIC_INVALID_ARG' },
    );
  }
});
