import { randomBytes } from 'node:crypto';

import test from 'ava';

import { connect, type QuicConnection, type QuicServer } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { readAll, sha256, startEchoServer } from '../helpers/echo';

let server: QuicServer;
let connection: QuicConnection;

test.before(async () => {
  const { ca, server: leaf } = await createPki();
  server = await startEchoServer(leaf);
  connection = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
});

test.after.always(async () => {
  await connection?.close();
  await server?.close();
});

test('8 MiB of random bytes come back byte-exact over one stream', async (t) => {
  const data = randomBytes(8 * 1024 * 1024);
  const stream = await connection.openStream();
  const received = readAll(stream);
  stream.end(data);
  const echoed = await received;
  t.is(echoed.length, data.length);
  t.is(sha256(echoed), sha256(data));
});

test('50 concurrent streams each echo 64 KiB byte-exact', async (t) => {
  const payloads = Array.from({ length: 50 }, () => randomBytes(64 * 1024));
  const results = await Promise.all(
    payloads.map(async (payload) => {
      const stream = await connection.openStream();
      const received = readAll(stream);
      stream.end(payload);
      return { id: stream.id, echoed: await received };
    }),
  );
  t.is(new Set(results.map((r) => r.id)).size, 50, 'every stream has its own ID');
  results.forEach(({ echoed }, i) => t.is(sha256(echoed), sha256(payloads[i]!), `stream ${i}`));
});

test('an empty stream ends cleanly', async (t) => {
  const stream = await connection.openStream();
  const received = readAll(stream);
  stream.end();
  t.is((await received).length, 0);
});
