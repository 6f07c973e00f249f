import dgram from 'node:dgram';

import test from 'ava';

import { connect, QuicAbortError } from '../../lib/index';
import type { QuicError } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { connectedPair, listenTest, readAll } from '../helpers/echo';

test('connect: an already-aborted signal rejects with AbortError', async (t) => {
  const { ca } = await createPki();
  const error = await t.throwsAsync<QuicError>(
    connect({ host: '127.0.0.1', port: 9, ca: ca.certPem, alpn: 'echo', signal: AbortSignal.abort() }),
    { instanceOf: QuicAbortError },
  );
  t.is(error?.code, 'ABORT_ERR');
  t.is(error?.name, 'AbortError');
});

test('connect: aborting a handshake nobody answers rejects with AbortError', async (t) => {
  const { ca } = await createPki();
  const blackhole = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => blackhole.bind(0, '127.0.0.1', resolve));
  const controller = new AbortController();
  const attempt = connect({ host: '127.0.0.1', port: blackhole.address().port, servername: 'localhost', ca: ca.certPem, alpn: 'echo', signal: controller.signal });
  await new Promise<void>((resolve) => blackhole.once('message', () => resolve()));
  controller.abort();
  await t.throwsAsync(attempt, { code: 'ABORT_ERR' });
  blackhole.close();
});

test('accept: aborting leaves the connection for the next accept()', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await listenTest(leaf);
  const controller = new AbortController();
  const first = server.accept({ signal: controller.signal });
  controller.abort();
  await t.throwsAsync(first, { code: 'ABORT_ERR' });
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  const accepted = await server.accept();
  t.truthy(accepted);
  t.deepEqual(accepted?.remoteAddress, client.localAddress);
  await client.close();
  await server.close();
});

test('openStream: aborting while the peer stream limit holds it back', async (t) => {
  const { client, close } = await connectedPair({ transport: { maxConcurrentBidiStreams: 1 } });
  const first = await client.openStream();
  first.write('occupying the only stream');
  const controller = new AbortController();
  const second = client.openStream({ signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await t.throwsAsync(second, { code: 'ABORT_ERR' });
  await close();
});

test('acceptStream: aborting, then the stream is still there for the next call', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const controller = new AbortController();
  const waiting = serverSide.acceptStream({ signal: controller.signal });
  controller.abort();
  await t.throwsAsync(waiting, { code: 'ABORT_ERR' });
  const stream = await client.openStream();
  stream.end('kept');
  const accepted = await serverSide.acceptStream();
  t.is((await readAll(accepted)).toString(), 'kept');
  await close();
});

test('reads: aborting a stream\'s signal destroys it with AbortError and the peer sees it reset', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const controller = new AbortController();
  const stream = await client.openStream({ signal: controller.signal });
  stream.write('hello');
  const accepted = await serverSide.acceptStream();
  const reading = readAll(stream);
  controller.abort();
  const error = await t.throwsAsync<QuicError>(reading);
  t.is(error?.name, 'AbortError');
  const peerError = await t.throwsAsync<QuicError>(readAll(accepted));
  t.is(peerError?.code, 'ERR_QUIC_STREAM_RESET');
  await close();
});

test('datagrams(): the iterator ends when its signal aborts', async (t) => {
  const { serverSide, close } = await connectedPair();
  const controller = new AbortController();
  const iterate = (async () => {
    let n = 0;
    for await (const _ of serverSide.datagrams({ signal: controller.signal })) n++;
    return n;
  })();
  controller.abort();
  t.is(await iterate, 0);
  await close();
});
