import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

import test from 'ava';

import { Http3Client, http3Request, listenHttp3, type QuicError, type Http3Handler, type QuicServer } from '../../lib/index';
import { serverBackend } from '../helpers/backend';
import { createPki, type TestCa } from '../helpers/certs';
import { sha256 } from '../helpers/echo';

/** A small HTTP/3 application: /echo echoes the body, /bytes/N sends N random bytes, /fail throws. */
const app: Http3Handler = async (request, response) => {
  const url = new URL(request.path, 'https://x');
  if (url.pathname === '/echo') {
    const body = await request.bytes();
    const trailers = await request.trailers();
    await response.respond(200, { 'content-type': 'application/octet-stream', 'x-request-sha256': sha256(body), 'x-method': request.method });
    if (trailers) response.setTrailers([['x-echoed-trailer', trailers.map(([n, v]) => `${n}=${v}`).join(',')]]);
    response.end(body);
  } else if (url.pathname.startsWith('/bytes/')) {
    const size = Number(url.pathname.split('/')[2]);
    const body = randomBytes(size);
    await response.respond(200, { 'x-sha256': sha256(body), 'content-length': String(size) });
    // Streamed in pieces, with backpressure.
    await new Promise<void>((resolve, reject) => Readable.from(chunks(body, 100_000)).pipe(response).on('finish', resolve).on('error', reject));
  } else if (url.pathname === '/fail') {
    throw new Error('handler exploded');
  } else {
    await response.respond(404);
    response.end();
  }
};

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

let ca: TestCa;
let server: QuicServer;
let client: Http3Client;

test.before(async () => {
  const pki = await createPki();
  ca = pki.ca;
  server = await listenHttp3({ address: '127.0.0.1', cert: pki.server.chainPem, key: pki.server.keyPem, backend: serverBackend() }, app);
  client = await Http3Client.connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem });
});

test.after.always(async () => {
  await client?.close();
  await server?.close();
});

test('GET streams a 5 MB body with its status and headers, byte-exact', async (t) => {
  const response = await client.request(`https://localhost:${server.address.port}/bytes/5000000`);
  t.is(response.status, 200);
  t.is(response.header('content-length'), '5000000');
  const body = await response.bytes();
  t.is(body.length, 5_000_000);
  t.is(sha256(body), response.header('X-SHA256') ?? 'missing');
  t.is(client.connection.alpn, 'h3');
});

test('POST with a streamed body and trailers: echoed byte-exact, trailers answered with trailers', async (t) => {
  const payload = randomBytes(3 << 20);
  const response = await client.request({
    method: 'PUT', path: '/echo', headers: { 'content-type': 'application/octet-stream' },
    body: Readable.from(chunks(payload, 65_536)), trailers: [['x-checksum', sha256(payload)]],
  });
  t.is(response.status, 200);
  t.is(response.header('x-method'), 'PUT');
  t.is(response.header('x-request-sha256'), sha256(payload));
  t.is(sha256(await response.bytes()), sha256(payload));
  t.deepEqual(await response.trailers(), [['x-echoed-trailer', `x-checksum=${sha256(payload)}`]]);
});

test('50 concurrent requests on one connection, each body byte-exact', async (t) => {
  const payloads = Array.from({ length: 50 }, (_, i) => randomBytes(10_000 + i * 997));
  const echoed = await Promise.all(payloads.map(async (payload) => (await client.request({ path: '/echo', body: payload })).bytes()));
  echoed.forEach((body, i) => t.is(sha256(body), sha256(payloads[i]!)));
});

test('status codes: 404 for unknown paths, 500 when the handler throws', async (t) => {
  const missing = await client.request({ path: '/nowhere' });
  t.is(missing.status, 404);
  t.is((await missing.bytes()).length, 0);
  const failed = await client.request({ path: '/fail' });
  t.is(failed.status, 500);
  t.regex(await failed.text(), /handler exploded/);
});

test('http3Request: one request on a connection of its own, by URL', async (t) => {
  const response = await http3Request(`https://localhost:${server.address.port}/bytes/12345`, { ca: ca.certPem, family: 4 });
  t.is(response.status, 200);
  t.is(sha256(await response.bytes()), response.header('x-sha256') ?? 'missing');
});

test('aborting a request resets it', async (t) => {
  const controller = new AbortController();
  const response = await client.request({ path: '/bytes/20000000', signal: controller.signal });
  t.is(response.status, 200);
  controller.abort();
  response.body.destroy();
  // The connection is still good for the next request.
  const next = await client.request({ path: '/bytes/10' });
  t.is((await next.bytes()).length, 10);
});

test('bad requests are invalid arguments', async (t) => {
  for (const bad of [{ method: 'GE T' }, { headers: [['bad name', 'x']] as [string, string][] }, { headers: { ':path': '/x' } }, { body: 42 as never }]) {
    const error = await t.throwsAsync<QuicError>(client.request({ path: '/echo', ...bad }));
    t.is(error?.code, 'ERR_QUIC_INVALID_ARG', JSON.stringify(bad));
  }
  await t.throwsAsync(client.request('not a url'), { code: 'ERR_QUIC_INVALID_ARG' });
});
