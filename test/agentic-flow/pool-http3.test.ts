// QuicConnectionPool (reuse, LRU eviction that closes), QuicTransport, and
// QuicClient.sendRequest over real HTTP/3 to a QuicServer.
import { randomBytes } from 'node:crypto';

import test from 'ava';

import { QuicConnectionPool, QuicTransport, type QuicMessage } from '../../lib/agentic-flow/index';
import type { Http3Request, Http3ServerResponse, QuicError } from '../../lib/index';
import { sha256, startClient, startServer, until } from './helpers';

test('QuicConnectionPool reuses by host:port and evicts the least recently used, closing it', async (t) => {
  const a = await startServer();
  const b = await startServer({}, a.pki);
  const c = await startServer({}, a.pki);
  const disconnected: string[] = [];
  a.server.on('disconnect', (id) => void disconnected.push(id));
  const client = await startClient(a.port, a.pki);
  const pool = new QuicConnectionPool(client, 2);
  const toA = await pool.getConnection('127.0.0.1', a.port);
  const toB = await pool.getConnection('127.0.0.1', b.port);
  t.is(await pool.getConnection('127.0.0.1', a.port), toA, 'reused, and now the most recently used');
  t.is(pool.size, 2);
  t.is(client.getStats().totalConnections, 2);

  const toC = await pool.getConnection('127.0.0.1', c.port); // full: B is the least recently used
  t.is(pool.size, 2);
  t.like(await toB.quic.closed, { kind: 'application' }, 'the evicted connection is closed, not just forgotten');
  t.false(client.connectionFor(toB.id) !== undefined);
  t.is(await pool.getConnection('127.0.0.1', a.port), toA);
  t.is(await pool.getConnection('127.0.0.1', c.port), toC);
  t.is(client.getStats().totalConnections, 3);
  t.is(client.getStats().activeConnections, 2);
  t.deepEqual(disconnected, [], 'A was used more recently and stays');

  await pool.clear();
  t.is(pool.size, 0);
  t.like(await toA.quic.closed, { kind: 'application' });
  await until(() => disconnected.length, 1, 'A to see the close');
  t.throws(() => new QuicConnectionPool(client, 0), { code: 'ERR_QUIC_INVALID_ARG' } as never);
});

test('QuicTransport: send() delivers a message or JSON and settles on the acknowledgement', async (t) => {
  const { server, port, pki } = await startServer();
  const got: QuicMessage[] = [];
  server.on('message', (message) => void got.push(message));
  const transport = new QuicTransport({ host: '127.0.0.1', port, caPath: pki.caPath });
  await transport.connect();
  await transport.send({ task: 'summarize', n: 3 });
  t.is(got.length, 1);
  t.deepEqual(got[0]!.msg_type, { Custom: 'json' });
  t.deepEqual(JSON.parse(Buffer.from(got[0]!.payload).toString()), { task: 'summarize', n: 3 });
  t.deepEqual(got[0]!.metadata, { contentType: 'application/json' });
  t.is(transport.getStats().totalConnections, 1);
  t.true(transport.getStats().bytesSent > 0);
  await transport.close();
  t.is(transport.getStats().activeConnections, 0);
});

test('sendRequest goes over real HTTP/3: method, path, headers and body arrive, the response comes back byte-exact', async (t) => {
  const { server, port, pki } = await startServer();
  const alpns: string[] = [];
  server.on('connection', (connection) => void alpns.push(connection.quic.alpn ?? '(none)'));
  server.on('request', (request, response) => void answer(request, response));
  const answer = async (request: Http3Request, response: Http3ServerResponse) => {
    const body = await request.bytes();
    if (request.path.startsWith('/missing')) {
      await response.respond(404, { 'content-type': 'text/plain' });
      response.end('not here');
      return;
    }
    const reply = randomBytes(200_000);
    await response.respond(200, {
      'x-method': request.method,
      'x-path': request.path,
      'x-agent': request.header('x-agent') ?? '',
      'x-request-sha256': sha256(body),
      'x-reply-sha256': sha256(reply),
    });
    response.end(reply);
  };
  const client = await startClient(port, pki);
  const { id } = await client.connect();
  const body = randomBytes(300_000);
  const response = await client.sendRequest(id, 'POST', '/tasks?priority=1', { 'x-agent': 'coder' }, body);
  t.is(response.status, 200);
  t.like(response.headers, { 'x-method': 'POST', 'x-path': '/tasks?priority=1', 'x-agent': 'coder', 'x-request-sha256': sha256(body) });
  t.is(sha256(response.body), response.headers['x-reply-sha256'] ?? '(missing)');
  const missing = await client.sendRequest(id, 'GET', '/missing');
  t.is(missing.status, 404);
  t.is(Buffer.from(missing.body).toString(), 'not here');
  t.deepEqual(alpns.sort(), ['agentic-flow/1', 'h3'], 'messages on agentic-flow/1, requests on an HTTP/3 connection');
  t.is((await t.throwsAsync<QuicError>(client.sendRequest(id, 'get', '/')))?.code, 'ERR_QUIC_INVALID_ARG');
  await client.shutdown();
});
