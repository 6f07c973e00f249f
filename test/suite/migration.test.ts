import { randomBytes } from 'node:crypto';

import test, { type ExecutionContext } from 'ava';

import { connect, type PathChange, QuicEndpoint, type QuicConnection, type QuicStream } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { connectedPair, listenTest, readAll, sha256 } from '../helpers/echo';
import { startRelay } from '../helpers/relay';

async function transferWithRebind(t: ExecutionContext, rebindTo: { address?: string }) {
  const { client, serverSide, close } = await connectedPair({}, { reuseEndpoint: false });
  const changes: PathChange[] = [];
  serverSide.on('pathChange', (change) => changes.push(change));
  const before = client.localAddress;

  const payload = randomBytes(10 << 20);
  const stream = await client.openUniStream();
  const received = serverSide.acceptUniStream().then(readAll);
  const half = payload.length / 2;
  await new Promise<void>((resolve, reject) => stream.write(payload.subarray(0, half), (e) => (e ? reject(e) : resolve())));
  const after = await client.rebind(rebindTo);
  stream.end(payload.subarray(half));
  t.is(sha256(await received), sha256(payload), 'the transfer completed byte-exact across the rebinding');

  t.not(after.port, before.port);
  if (rebindTo.address) t.is(after.address, rebindTo.address);
  // The server's view follows the client to its new path.
  for (let i = 0; i < 50 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(serverSide.remoteAddress, after);
  t.true(changes.length >= 1, 'the server saw a path change');
  t.deepEqual(changes.at(-1)?.current, after);
  t.deepEqual(changes[0]?.previous, before);
  await close();
}

test('the client rebinds to a new local port mid-transfer; the server sees the path change', (t) => transferWithRebind(t, {}));

test('the client moves to a new local address (127.0.0.2) mid-transfer', (t) => transferWithRebind(t, { address: '127.0.0.2' }));

/** The first `n` bytes of `stream`, or a rejection once `ms` pass without them. */
function readBytes(stream: QuicStream, n: number, ms: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`${length} of ${n} bytes arrived in ${ms} ms`));
    }, ms);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < n) return;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.pause();
      resolve(Buffer.concat(chunks));
    };
    stream.on('data', onData);
  });
}

test('what the server still sends to the old address after a rebind is received', async (t) => {
  // Through a relay that carries nothing towards the server from the moment
  // of the rebind until the client has the server's reply: the server never
  // hears from the new address, so the reply can only come to the old one.
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf);
  const relay = await startRelay({ target: server.address });
  const streams: QuicStream[] = [];
  let client: QuicConnection | undefined;
  try {
    const accepted = server.accept();
    client = await connect({ host: '127.0.0.1', port: relay.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', reuseEndpoint: false });
    const serverSide = await accepted;
    if (!serverSide) throw new Error('server closed before accepting');
    const stream = await client.openStream();
    streams.push(stream);
    stream.write('hello');
    const serverStream = await serverSide.acceptStream();
    streams.push(serverStream);
    t.is((await readBytes(serverStream, 5, 5_000)).toString(), 'hello');

    const before = client.localAddress;
    relay.update({ toServer: { blackholes: [{ fromMs: 0, toMs: Infinity }] } });
    const after = await client.rebind();
    t.not(after.port, before.port);
    const reply = randomBytes(4000);
    serverStream.write(reply);
    const got = await readBytes(stream, reply.length, 5_000).catch((e: unknown) => e as Error);
    t.false(got instanceof Error, `the reply sent to the old address after the rebind arrived (${got instanceof Error ? got.message : 'yes'})`);
    t.is(sha256(got as Buffer), sha256(reply), 'the reply arrived whole');
    const newAddress = `${after.address}:${after.port}`;
    t.false(
      relay.log.some((e) => e.dir === 'toClient' && e.client === newAddress),
      'nothing reached the new address while the server could not hear from it',
    );

    // Once the server hears from the new address, the connection goes on there.
    relay.update({ toServer: { blackholes: undefined } });
    const rest = randomBytes(100_000);
    const echoed = readAll(serverStream);
    stream.end(rest);
    t.is(sha256(await echoed), sha256(rest), "the client's data after the rebind arrived");
    serverStream.end();
    t.is((await readAll(stream)).length, 0, 'nothing more than the reply came back');
    t.true(relay.log.some((e) => e.dir === 'toClient' && e.client === newAddress), 'the server answers on the new path');
  } finally {
    // A failed check leaves reads pending: end them before the connection goes.
    for (const stream of streams) stream.destroy();
    await client?.close();
    await relay.close();
    await server.close();
  }
});

test('only connections that own their socket can rebind: not a server-side one, not one on a shared endpoint', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  await t.throwsAsync(serverSide.rebind(), { code: 'ERR_QUIC_INVALID_STATE', message: /server-side connection/ });
  await t.throwsAsync(client.rebind(), { code: 'ERR_QUIC_INVALID_STATE', message: /reuseEndpoint: false/ });
  await close();
});

test('a QuicEndpoint rebinds with all its connections: both keep moving bytes byte-exact', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf);
  const accepting = (async () => {
    const sides: QuicConnection[] = [];
    for await (const connection of server) {
      sides.push(connection);
      if (sides.length === 2) return sides;
    }
    throw new Error('server closed before accepting two connections');
  })();
  const endpoint = await QuicEndpoint.bind();
  const target = { host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' };
  const clients = [await endpoint.connect(target), await endpoint.connect(target)];
  const sides = await accepting;
  const before = endpoint.address;
  t.deepEqual(clients.map((c) => c.localAddress), [before, before], 'both connections are on the endpoint');
  const after = await endpoint.rebind();
  t.not(after.port, before.port);
  const payloads = clients.map(() => randomBytes(256 * 1024));
  for (const [i, client] of clients.entries()) {
    t.deepEqual(client.localAddress, after, `connection ${i} moved with the endpoint`);
    (await client.openUniStream()).end(payloads[i]);
  }
  const received = await Promise.all(sides.map(async (side) => sha256(await readAll(await side.acceptUniStream()))));
  t.deepEqual(received.sort(), payloads.map(sha256).sort(), 'each connection delivered its bytes after the move');
  t.deepEqual(sides.map((side) => side.remoteAddress), [after, after], 'the server sees both on the new path');
  await endpoint.close();
  await server.close();
});
