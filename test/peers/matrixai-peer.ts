/**
 * @matrixai/quic (js-quic: Cloudflare's quiche behind napi-rs, Web Streams on
 * top) as an independent QUIC peer for quicbridge's interop tests. Same
 * subcommands, flags and JSON output as test/peers/aioquic_peer.py, for what
 * js-quic can do:
 *
 *   tsx test/peers/matrixai-peer.ts server --cert CHAIN.pem --key KEY.pem [--max-streams K]
 *   tsx test/peers/matrixai-peer.ts client --port P --ca CA.pem --mode echo|streams
 *
 * Not available here, so refused with a reason: DATAGRAM frames (no API),
 * session tickets (no API, so no resumption or 0-RTT from the client),
 * restricting cipher suites and requesting key updates (quiche's BoringSSL
 * setup has neither). Its server always validates addresses with Retry.
 */
import { createHash, createHmac, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

// js-quic is ESM only and this file runs as CommonJS (like the rest of the
// tests): types only here, the module itself comes by dynamic import.
import type * as Quic from '@matrixai/quic' with { 'resolution-mode': 'import' };
import type * as MatrixLogger from '@matrixai/logger' with { 'resolution-mode': 'import' };

type QuicModule = typeof Quic;
type QUICConnection = Quic.QUICConnection;
type QUICStream = Quic.QUICStream;

const version = (JSON.parse(readFileSync(require.resolve('@matrixai/quic/package.json'), 'utf8')) as { version: string })
  .version;

const UNSUPPORTED: Record<string, string> = {
  datagrams: '@matrixai/quic 2.0.9 has no API to send or receive DATAGRAM frames',
  'session-ticket': '@matrixai/quic 2.0.9 has no API to save or load session tickets',
  cipher: "@matrixai/quic 2.0.9 cannot restrict TLS 1.3 cipher suites (quiche's BoringSSL setup)",
  'key-update': '@matrixai/quic 2.0.9 (quiche) cannot request a key update',
};

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** Retry tokens are HMAC'd with a per-process key, as js-quic's own tests do. */
const hmacKey = randomBytes(32);
const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const serverCrypto = {
  key: toArrayBuffer(hmacKey),
  ops: {
    sign: (key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> =>
      Promise.resolve(toArrayBuffer(createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest())),
    verify: (key: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer): Promise<boolean> =>
      Promise.resolve(createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest().equals(Buffer.from(sig))),
  },
};
const clientCrypto = {
  ops: {
    randomBytes: (data: ArrayBuffer): Promise<void> => {
      webcrypto.getRandomValues(new Uint8Array(data));
      return Promise.resolve();
    },
  },
};

const { positionals, values: args } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    alpn: { type: 'string', default: 'echo' },
    'idle-timeout': { type: 'string', default: '30' },
    cert: { type: 'string' },
    key: { type: 'string' },
    retry: { type: 'boolean', default: false },
    'max-streams': { type: 'string', default: '100' },
    ca: { type: 'string' },
    insecure: { type: 'boolean', default: false },
    servername: { type: 'string', default: 'localhost' },
    mode: { type: 'string', default: 'echo' },
    bytes: { type: 'string', default: '1024' },
    streams: { type: 'string', default: '2000' },
    'stream-size': { type: 'string', default: '32' },
    datagrams: { type: 'string' },
    'datagram-size': { type: 'string' },
    'session-ticket': { type: 'string' },
    cipher: { type: 'string' },
    'key-update': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '60' },
  },
});

async function readAll(stream: QUICStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream.readable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Writes and reads at once: a streaming echo server stops reading when its writes back are not consumed. */
async function exchange(stream: QUICStream, data: Buffer): Promise<Buffer> {
  const writer = stream.writable.getWriter();
  const writing = (async () => {
    for (let off = 0; off < data.length; off += 64 * 1024) await writer.write(data.subarray(off, off + 64 * 1024));
    await writer.close();
  })();
  const [echo] = await Promise.all([readAll(stream), writing]);
  return echo;
}

/** js-quic logs every stream at INFO to stderr; warnings and errors are enough. */
let logger: MatrixLogger.default | undefined;

async function server(quic: QuicModule): Promise<void> {
  if (!args.cert || !args.key) throw new Error('server needs --cert and --key');
  for (const flag of ['cipher'] as const) if (args[flag]) throw new Error(UNSUPPORTED[flag]);
  const srv = new quic.QUICServer({
    crypto: serverCrypto,
    logger,
    config: {
      cert: readFileSync(args.cert, 'utf8'),
      key: readFileSync(args.key, 'utf8'),
      verifyPeer: false,
      applicationProtos: args.alpn.split(','),
      initialMaxStreamsBidi: Number(args['max-streams']),
      maxIdleTimeout: Number(args['idle-timeout']) * 1000,
      enableEarlyData: true,
    },
  });
  srv.addEventListener(quic.events.EventQUICServerConnection.name, (evt: Event) => {
    const conn = (evt as Quic.events.EventQUICServerConnection).detail;
    let streams = 0;
    conn.addEventListener(quic.events.EventQUICConnectionStream.name, (e: Event) => {
      const stream = (e as Quic.events.EventQUICConnectionStream).detail;
      stream.readable.pipeTo(stream.writable).then(
        () => void streams++,
        () => undefined, // the peer reset the stream or the connection went away
      );
    });
    conn.addEventListener(
      quic.events.EventQUICConnectionStopped.name,
      () => emit({ event: 'connection', streams, remotePort: conn.remotePort }),
      { once: true },
    );
  });
  await srv.start({ host: args.host, port: Number(args.port) });
  emit({
    event: 'listening',
    peer: 'matrixai',
    version,
    host: srv.host,
    port: srv.port,
    // quiche's server in js-quic validates every new client address with Retry.
    retry: 'always',
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await srv.stop({ force: true });
}

async function client(quic: QuicModule): Promise<boolean> {
  const result: Record<string, unknown> = { peer: 'matrixai', version, role: 'client', mode: args.mode };
  const started = Date.now();
  let ok = false;
  try {
    for (const flag of ['session-ticket', 'cipher', 'key-update'] as const) if (args[flag]) throw new Error(UNSUPPORTED[flag]);
    if (args.mode === 'datagrams') throw new Error(UNSUPPORTED.datagrams);
    if (!args.ca && !args.insecure) throw new Error('client needs --ca or --insecure');
    const timeout = Number(args.timeout) * 1000;
    const c = await quic.QUICClient.createQUICClient(
      {
        host: args.host,
        port: Number(args.port),
        serverName: args.servername,
        crypto: clientCrypto,
        logger,
        config: {
          ca: args.ca ? readFileSync(args.ca, 'utf8') : undefined,
          verifyPeer: !args.insecure,
          applicationProtos: args.alpn.split(','),
          maxIdleTimeout: Number(args['idle-timeout']) * 1000,
        },
      },
      { timer: timeout },
    );
    try {
      const work = args.mode === 'echo' ? echoMode(c.connection, result) : streamsMode(c.connection, result);
      let timer: NodeJS.Timeout | undefined;
      ok = await Promise.race([
        work,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms`)), timeout))),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await c.destroy({ isApp: true, errorCode: 0, reason: Buffer.from('done') });
    }
  } catch (e) {
    result.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    ok = false;
  }
  result.elapsed_ms = Date.now() - started;
  result.ok = ok;
  emit(result);
  return ok;
}

async function echoMode(conn: QUICConnection, result: Record<string, unknown>): Promise<boolean> {
  const data = randomBytes(Number(args.bytes));
  const echo = await exchange(conn.newStream(), data);
  const sent = createHash('sha256').update(data).digest('hex');
  const got = createHash('sha256').update(echo).digest('hex');
  Object.assign(result, { bytes: data.length, echoed_bytes: echo.length, sha256_sent: sent, sha256_echo: got });
  return sent === got;
}

const native = (conn: QUICConnection): { peerStreamsLeftBidi(): number } =>
  (conn as unknown as { conn: { peerStreamsLeftBidi(): number } }).conn;

async function streamsMode(conn: QUICConnection, result: Record<string, unknown>): Promise<boolean> {
  const count = Number(args.streams);
  const size = Number(args['stream-size']);
  const inFlight = new Set<Promise<void>>();
  let good = 0;
  let limited = 0;
  result.streams_ok = 0;
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(size);
    createHash('sha256').update(Buffer.from([i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255])).digest().copy(payload);
    // js-quic throws when a new stream would pass the peer's MAX_STREAMS,
    // and after that throw it never opens another stream on the connection
    // ("We should never repeat streamIds"). So ask quiche first, through the
    // connection's untyped `conn`, and wait for one of ours to finish (and
    // for the credit the peer then sends) while none is left.
    while (native(conn).peerStreamsLeftBidi() === 0) {
      limited++;
      await (inFlight.size ? Promise.race(inFlight) : new Promise((r) => setTimeout(r, 5)));
      await new Promise((r) => setTimeout(r, 1));
    }
    const stream = conn.newStream();
    const p: Promise<void> = exchange(stream, payload).then((echo) => {
      // Kept current, so a run that times out still tells how far it got.
      if (echo.equals(payload)) result.streams_ok = ++good;
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  Object.assign(result, { streams: count, stream_size: size, streams_ok: good, stream_limit_waits: limited });
  return good === count;
}

async function main(): Promise<number> {
  const quic: QuicModule = await import('@matrixai/quic');
  // @matrixai/logger is js-quic's own dependency (its logger type).
  const { default: Logger, LogLevel } = await import('@matrixai/logger');
  logger = new Logger('matrixai-peer', LogLevel.WARN);
  const command = positionals[0];
  if (command === 'server') {
    await server(quic);
    return 0;
  }
  if (command === 'client') return (await client(quic)) ? 0 : 1;
  process.stderr.write('usage: matrixai-peer.ts server|client [flags]\n');
  return 2;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`matrixai-peer: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
