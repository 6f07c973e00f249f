import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import test from 'ava';

import { connect, QuicTlsError } from '../../lib/index';
import { createPki, createSelfSigned, issueLeaf } from '../helpers/certs';
import { listenTest, readAll, startEchoServer } from '../helpers/echo';

test('mutual TLS: the server requires a client certificate and reads it', async (t) => {
  const { ca, server: leaf } = await createPki();
  const clientLeaf = await issueLeaf(ca, ['client.example']);
  const server = await listenTest(leaf, { clientAuth: { ca: ca.certPem } });
  const accepted = server.accept();
  const client = await connect({
    host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo',
    cert: clientLeaf.chainPem, key: clientLeaf.keyPem,
  });
  const serverSide = (await accepted)!;
  const presented = serverSide.peerCertificates;
  t.is(presented[0]?.fingerprint256, new X509Certificate(clientLeaf.certPem).fingerprint256);
  t.true(presented[0]?.checkHost('client.example') !== undefined);
  await client.close();
  await server.close();
});

test('mutual TLS: a client without a certificate is refused', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf, { clientAuth: { ca: ca.certPem, required: true } });
  const attempt = (async () => {
    const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
    // TLS 1.3 clients finish first: the refusal may arrive just after connect().
    const stream = await client.openStream();
    stream.end('x');
    await readAll(stream);
    return client.closed;
  })();
  const error = await t.throwsAsync(attempt, { instanceOf: QuicTlsError });
  t.is(error?.code, 'ERR_QUIC_TLS');
  t.regex(error?.tlsAlert ?? '', /certificate_required|handshake_failure|bad_certificate/);
  await server.close();
});

test('mutual TLS, optional: a client without a certificate is let in', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf, { clientAuth: { ca: ca.certPem, required: false } });
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  const stream = await client.openStream();
  stream.end('ping');
  t.is((await readAll(stream)).toString(), 'ping');
  await client.close();
  await server.close();
});

test('verification is on by default: a self-signed server is refused; insecureSkipVerify lets it in', async (t) => {
  const selfSigned = await createSelfSigned();
  const server = await startEchoServer(selfSigned);
  const port = server.address.port;
  const refused = await t.throwsAsync(
    connect({ host: '127.0.0.1', port, servername: 'localhost', systemRoots: true, alpn: 'echo' }),
    { instanceOf: QuicTlsError },
  );
  t.regex(refused?.message ?? '', /UnknownIssuer|unknown/i);
  const insecure = await connect({ host: '127.0.0.1', port, servername: 'localhost', insecureSkipVerify: true, alpn: 'echo' });
  const stream = await insecure.openStream();
  stream.end('unverified but encrypted');
  t.is((await readAll(stream)).toString(), 'unverified but encrypted');
  await insecure.close();
  await server.close();
});

test('systemRoots adds the system CAs to ca without replacing it', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  const client = await connect({
    host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, systemRoots: true, alpn: 'echo',
  });
  t.is(client.alpn, 'echo');
  await client.close();
  await server.close();
});

const keyLogLine = /^(CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-f]{64} [0-9a-f]{64,96}$/;

async function eventually<T>(read: () => T, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return read();
}

test('key log: SSLKEYLOGFILE lines to a file (client) and a callback (server), same client random', async (t) => {
  const { ca, server: leaf } = await createPki();
  const serverLines: string[] = [];
  const server = await startEchoServer(leaf, { keylog: (line) => serverLines.push(line) });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'quicbridge-')), 'keys.log');
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', keylog: file });
  await client.close();
  const clientLines = (await eventually(() => fs.readFileSync(file, 'utf8'), (text) => text.split('\n').length > 4)).trim().split('\n');
  await eventually(() => serverLines.length, (n) => n >= 4);
  t.true(clientLines.length >= 4, clientLines.join('\n'));
  for (const line of clientLines) t.regex(line, keyLogLine);
  for (const line of serverLines) t.regex(line.trim(), keyLogLine);
  const random = (line: string) => line.split(' ')[1];
  t.is(random(serverLines[0]!), random(clientLines[0]!), 'both sides log the same handshake');
  t.is((fs.statSync(file).mode & 0o777).toString(8), '600');
  await server.close();
});

test('pinnedSha256 trusts exactly a self-signed certificate, and nothing else', async (t) => {
  const selfSigned = await createSelfSigned();
  const server = await startEchoServer(selfSigned);
  const port = server.address.port;
  const fingerprint = new X509Certificate(selfSigned.certPem).fingerprint256;
  const pinned = await connect({ host: '127.0.0.1', port, servername: 'localhost', pinnedSha256: fingerprint, alpn: 'echo' });
  const stream = await pinned.openStream();
  stream.end('pinned');
  t.is((await readAll(stream)).toString(), 'pinned');
  await pinned.close();
  const other = new X509Certificate((await createSelfSigned()).certPem).fingerprint256;
  const refused = await t.throwsAsync(
    connect({ host: '127.0.0.1', port, servername: 'localhost', pinnedSha256: [other], alpn: 'echo' }),
    { instanceOf: QuicTlsError },
  );
  t.is(refused?.code, 'ERR_QUIC_TLS');
  await t.throwsAsync(connect({ host: '127.0.0.1', port, pinnedSha256: 'abc', alpn: 'echo' }), { code: 'ERR_QUIC_INVALID_ARG' });
  await server.close();
});
