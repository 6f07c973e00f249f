import { randomBytes } from 'node:crypto';

import test from 'ava';

import { QuicStreamError } from '../../lib/index';
import { connectedPair, readAll, sha256 } from '../helpers/echo';

test('unidirectional streams carry bytes in both directions', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const up = randomBytes(1 << 20);
  const down = randomBytes(1 << 20);

  const outgoing = await client.openUniStream();
  t.is(outgoing.direction, 'unidirectional');
  t.false(outgoing.readable);
  outgoing.end(up);
  const incoming = await serverSide.acceptUniStream();
  t.false(incoming.writable);
  t.is(sha256(await readAll(incoming)), sha256(up));

  const reply = await serverSide.openUniStream();
  reply.end(down);
  const fromServer = await client.acceptUniStream();
  t.is(sha256(await readAll(fromServer)), sha256(down));
  t.is(outgoing.id % 4, 2, 'client-initiated unidirectional stream ID');
  t.is(reply.id % 4, 3, 'server-initiated unidirectional stream ID');
  await close();
});

test('the uniStreams() iterator yields each of the peer unidirectional streams', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  for (let i = 0; i < 3; i++) (await client.openUniStream()).end(`message ${i}`);
  const received: string[] = [];
  for await (const stream of serverSide.uniStreams()) {
    received.push((await readAll(stream)).toString());
    if (received.length === 3) break;
  }
  t.deepEqual(received.sort(), ['message 0', 'message 1', 'message 2']);
  await close();
});

test('RESET_STREAM: the peer reading sees ERR_QUIC_STREAM_RESET with the code', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const stream = await client.openStream();
  stream.write('partial');
  const accepted = await serverSide.acceptStream();
  stream.reset(77);
  const error = await t.throwsAsync(readAll(accepted), { instanceOf: QuicStreamError });
  t.is(error?.code, 'ERR_QUIC_STREAM_RESET');
  t.is(error?.quicCode, 77);
  await close();
});

test('STOP_SENDING: the peer writing sees ERR_QUIC_STREAM_STOPPED with the code', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const stream = await client.openStream();
  stream.write('hello');
  const accepted = await serverSide.acceptStream();
  accepted.stopSending(88);
  const failed = new Promise<Error>((resolve) => stream.on('error', resolve));
  // Keep writing until the STOP_SENDING arrives and a write fails.
  const chunk = Buffer.alloc(64 * 1024);
  const writer = setInterval(() => stream.write(chunk), 5);
  const error = (await failed) as QuicStreamError;
  clearInterval(writer);
  t.true(error instanceof QuicStreamError);
  t.is(error.code, 'ERR_QUIC_STREAM_STOPPED');
  t.is(error.quicCode, 88);
  await close();
});

test('a stream works as Web Streams, byte-exact both ways', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const payload = randomBytes(2 << 20);
  const echo = (async () => {
    const stream = await serverSide.acceptStream();
    const { readable, writable } = stream.toWeb();
    await readable.pipeTo(writable);
  })();
  const { readable, writable } = (await client.openStream()).toWeb();
  const writer = writable.getWriter();
  const written = (async () => {
    for (let offset = 0; offset < payload.length; offset += 100_000) {
      await writer.write(payload.subarray(offset, offset + 100_000));
    }
    await writer.close();
  })();
  const chunks: Uint8Array[] = [];
  for await (const chunk of readable) chunks.push(chunk);
  await written;
  await echo;
  t.is(sha256(Buffer.concat(chunks)), sha256(payload));
  await close();
});

test('a stream is an async iterable of Buffers', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const stream = await client.openUniStream();
  stream.end('abc');
  const accepted = await serverSide.acceptUniStream();
  const chunks: Buffer[] = [];
  for await (const chunk of accepted) chunks.push(chunk as Buffer);
  t.true(chunks.every((c) => Buffer.isBuffer(c)));
  t.is(Buffer.concat(chunks).toString(), 'abc');
  await close();
});

test('iterating a stream to its end ends its readable side: end, then close once the reply is finished', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const request = randomBytes(300_000);
  const stream = await client.openStream();
  stream.end(request);
  const accepted = await serverSide.acceptStream();
  const events: string[] = [];
  accepted.on('end', () => events.push('end'));
  accepted.on('close', () => events.push('close'));
  const chunks: Buffer[] = [];
  for await (const chunk of accepted) chunks.push(chunk as Buffer);
  t.is(sha256(Buffer.concat(chunks)), sha256(request));
  await new Promise((resolve) => setImmediate(resolve));
  t.true(accepted.readableEnded);
  t.deepEqual(events, ['end'], 'the writable side is still open, so the stream is not closed');
  const closed = new Promise((resolve) => accepted.once('close', resolve));
  accepted.end('reply');
  t.is((await readAll(stream)).toString(), 'reply');
  await closed;
  t.deepEqual(events, ['end', 'close']);
  await close();
});

test('a stream read first by data events and then iterated yields the rest, byte-exact', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const body = randomBytes(1 << 20);
  const stream = await client.openUniStream();
  stream.end(body);
  const accepted = await serverSide.acceptUniStream();
  const first = await new Promise<Buffer>((resolve) => {
    accepted.once('data', (chunk: Buffer) => {
      accepted.pause();
      resolve(chunk);
    });
  });
  const rest = await readAll(accepted);
  t.true(first.length > 0);
  t.is(sha256(Buffer.concat([first, rest])), sha256(body));
  await close();
});

test('leaving a stream iterator early sends STOP_SENDING: the writer sees ERR_QUIC_STREAM_STOPPED with code 0', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  const stream = await client.openStream();
  const writerFailed = new Promise<Error>((resolve) => stream.on('error', resolve));
  const chunk = randomBytes(64 * 1024);
  const pump = setInterval(() => stream.write(chunk), 1);
  const accepted = await serverSide.acceptStream();
  for await (const received of accepted) {
    t.true((received as Buffer).length > 0);
    break;
  }
  const error = (await writerFailed) as QuicStreamError;
  clearInterval(pump);
  t.is(error.code, 'ERR_QUIC_STREAM_STOPPED');
  t.is(error.quicCode, 0);
  await close();
});

test('a stream limit holds back new streams until one ends (MAX_STREAMS)', async (t) => {
  const { client, serverSide, close } = await connectedPair({ transport: { maxConcurrentBidiStreams: 2 } });
  const first = await client.openStream();
  const second = await client.openStream();
  first.write('1');
  second.write('2');
  let thirdOpened = false;
  const third = client.openStream().then((s) => {
    thirdOpened = true;
    return s;
  });
  const a = await serverSide.acceptStream();
  await serverSide.acceptStream();
  t.false(thirdOpened, 'the third stream waits for credit');
  // Finish the first stream both ways: the server then grants one more.
  first.end();
  a.end();
  await readAll(a);
  await readAll(first);
  const s3 = await third;
  t.is(s3.id, 8);
  await close();
});

test('resetting a unidirectional stream we only read is a state error', async (t) => {
  const { client, serverSide, close } = await connectedPair();
  (await client.openUniStream()).end('x');
  const accepted = await serverSide.acceptUniStream();
  t.throws(() => accepted.reset(1), { code: 'ERR_QUIC_INVALID_STATE' });
  t.is((await readAll(accepted)).toString(), 'x');
  await close();
});
