/**
 * quicbridge as one more interop peer: the echo server and the client modes
 * of the other peer programs (see aioquic_peer.py), on either backend.
 *
 * In process (what the interop matrix uses, so that a second connection can
 * resume the first one's session from the process-wide session cache):
 *
 *   const server = await startQuicbridgeServer({ backend: 'wasm', cert, key, ... });
 *   const result = await runQuicbridgeClient({ backend: 'native', port, ca, mode: 'echo', bytes });
 *
 * As a program (what the fault and fuzz tests use, so that the server can be
 * killed, and a crash is a dead process rather than a dead test worker):
 *
 *   tsx test/peers/quicbridge-peer.ts server --backend native --cert CHAIN.pem --key KEY.pem [--retry] [--max-streams K] [--idle-timeout S]
 *   tsx test/peers/quicbridge-peer.ts client --backend wasm --port P --ca CA.pem --mode echo --bytes N
 *
 * Same JSON lines as the other peers: `{"event":"listening","port":N}`, one
 * `{"event":"connection",...}` per ended connection; a client prints one
 * result line and exits 0 only if every check passed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import {
  type BackendName,
  type CipherSuite,
  connect,
  type ConnectOptions,
  listen,
  type ListenOptions,
  type QuicConnection,
  QuicError,
  type QuicStream,
  type RetryPolicy,
} from '../../lib/index';
import type { ClientOptions, ClientResult, RunningServer, ServerEvent, ServerOptions } from './drivers';

export interface QuicbridgeServerOptions extends ServerOptions {
  backend: BackendName;
  /** Overrides `retry: true` (which means 'always'). */
  retryPolicy?: RetryPolicy;
  resumption?: boolean;
  earlyData?: boolean;
  idleTimeoutMs?: number;
  keylog?: (line: string) => void;
  /** Extra listen options (limits, windows...). */
  listen?: Partial<ListenOptions>;
}

export interface QuicbridgeClientOptions extends ClientOptions {
  backend: BackendName;
  resumption?: boolean;
  earlyData?: boolean;
  /** Echo mode: move to a new local port (connection migration) once half the echo is back. */
  migrate?: boolean;
  /** Echo mode: called with the running count of echoed bytes. */
  onEchoed?: (bytes: number) => void;
  /** Echo mode: called half way, just before the key update or migration it asks for. */
  onHalfway?: () => void;
  keylog?: (line: string) => void;
  idleTimeoutMs?: number;
  /** Extra connect options. */
  connect?: Partial<ConnectOptions>;
}

const CHACHA: CipherSuite[] = ['TLS_CHACHA20_POLY1305_SHA256'];
const MAX_STREAMS_DEFAULT = 100;

function pem(pathOrText: string): string {
  return pathOrText.includes('-----BEGIN') ? pathOrText : readFileSync(pathOrText, 'utf8');
}

function describeError(e: unknown): string {
  if (e instanceof QuicError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** An echo server: every bidirectional stream back (FIN included), every datagram back. */
export async function startQuicbridgeServer(opts: QuicbridgeServerOptions): Promise<RunningServer> {
  const events: ServerEvent[] = [];
  const server = await listen(
    {
      address: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      cert: pem(opts.cert),
      key: pem(opts.key),
      alpn: (opts.alpn ?? 'echo').split(','),
      backend: opts.backend,
      retry: opts.retryPolicy ?? (opts.retry ? 'always' : undefined),
      resumption: opts.resumption,
      earlyData: opts.earlyData,
      cipherSuites: opts.cipher === 'CHACHA20' ? CHACHA : undefined,
      keylog: opts.keylog,
      ...opts.listen,
      transport: {
        maxConcurrentBidiStreams: opts.maxStreams ?? MAX_STREAMS_DEFAULT,
        ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
        ...opts.listen?.transport,
      },
    },
    async (connection) => {
      let streams = 0;
      let earlyStreams = 0;
      let datagrams = 0;
      connection.on('datagram', (data) => {
        datagrams++;
        try {
          connection.sendDatagram(data);
        } catch {
          // unreliable by definition: a datagram that cannot go back is dropped
        }
      });
      const early = connection.handshakeComplete.catch(() => 'failed');
      void connection.closed.then(async (info) => {
        events.push({
          event: 'connection',
          alpn: connection.alpn,
          early_data: await early,
          early_streams: earlyStreams,
          streams,
          datagrams,
          remote: connection.remoteAddress,
          close: info,
        });
      });
      for await (const stream of connection.streams()) {
        stream.on('error', () => undefined); // a reset by the peer ends that echo, not the server
        if (stream.early) earlyStreams++;
        stream.pipe(stream).once('finish', () => streams++);
      }
    },
  );
  let stopped = false;
  return {
    host: server.address.address,
    port: server.address.port,
    listening: { event: 'listening', peer: 'quicbridge', backend: opts.backend, port: server.address.port },
    events,
    stderr: () => '',
    exited: () => undefined,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close(0, 'stopping');
    },
  };
}

async function writeAll(stream: QuicStream, data: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!stream.write(data.subarray(off, off + chunk))) await new Promise((resolve) => stream.once('drain', resolve));
  }
  await new Promise<void>((resolve) => stream.end(resolve));
}

async function echoMode(connection: QuicConnection, opts: QuicbridgeClientOptions, result: Record<string, unknown>): Promise<boolean> {
  const size = opts.bytes ?? 1024;
  const data = randomBytes(size);
  const stream = await connection.openStream();
  let echoed = 0;
  let halfway: Promise<void> | undefined;
  const chunks: Buffer[] = [];
  const reading = (async () => {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      echoed += (chunk as Buffer).length;
      opts.onEchoed?.(echoed);
      // quinn ignores a key update asked for while one is in progress (its
      // own first one, or the previous request, until three PTOs after it
      // is confirmed), so the request is repeated on every chunk after the
      // point; once one is accepted the rest are ignored the same way.
      if (opts.keyUpdate && halfway) connection.updateKeys();
      if (!halfway && echoed >= size * (opts.keyUpdate ? 1 / 3 : 1 / 2)) {
        opts.onHalfway?.();
        halfway = (async () => {
          if (opts.keyUpdate) {
            connection.updateKeys();
            result.key_update_requested = true;
          }
          if (opts.migrate) {
            const before = connection.localAddress;
            const after = await connection.rebind();
            result.migrated = { from: before, to: after };
          }
        })();
      }
    }
  })();
  await Promise.all([writeAll(stream, data), reading]);
  await halfway;
  const echo = Buffer.concat(chunks);
  const sent = createHash('sha256').update(data).digest('hex');
  const got = createHash('sha256').update(echo).digest('hex');
  Object.assign(result, { bytes: size, echoed_bytes: echo.length, sha256_sent: sent, sha256_echo: got });
  return sent === got && echo.length === size;
}

async function streamsMode(connection: QuicConnection, opts: QuicbridgeClientOptions, result: Record<string, unknown>): Promise<boolean> {
  const count = opts.streams ?? 2000;
  const size = opts.streamSize ?? 32;
  let good = 0;
  result.streams_ok = 0;
  // All at once: openStream() waits while the server's MAX_STREAMS limit is
  // reached, so this only completes if the limit is raised as streams end.
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const payload = Buffer.alloc(size);
      createHash('sha256').update(Buffer.from([i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255])).digest().copy(payload);
      const stream = await connection.openStream();
      stream.end(payload);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      if (Buffer.concat(chunks).equals(payload)) result.streams_ok = ++good;
    }),
  );
  Object.assign(result, { streams: count, stream_size: size });
  return good === count;
}

async function datagramsMode(connection: QuicConnection, opts: QuicbridgeClientOptions, result: Record<string, unknown>): Promise<boolean> {
  const count = opts.datagrams ?? 50;
  const sent = Array.from({ length: count }, (_, i) => Buffer.from(`datagram ${String(i).padStart(5, '0')} `.padEnd(100, '.')));
  const expected = new Set(sent.map((d) => d.toString()));
  const received: Buffer[] = [];
  connection.on('datagram', (d) => received.push(d));
  if (connection.maxDatagramSize === undefined) {
    result.error = 'peer does not accept DATAGRAM frames';
    return false;
  }
  for (let i = 0; i < sent.length; i++) {
    connection.sendDatagram(sent[i]!);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5)); // unreliable: do not overrun queues
  }
  for (let i = 0; i < 150 && received.length < sent.length; i++) await new Promise((r) => setTimeout(r, 20));
  const valid = received.filter((d) => expected.has(d.toString())).length;
  Object.assign(result, { datagrams_sent: sent.length, datagrams_received: received.length, datagrams_valid: valid });
  // Loopback loses nothing, but DATAGRAM frames are allowed to be dropped.
  return valid === received.length && valid >= 0.9 * sent.length;
}

/** Runs one client mode against a server; never throws: failures are in the result. */
export async function runQuicbridgeClient(opts: QuicbridgeClientOptions): Promise<ClientResult> {
  const result: Record<string, unknown> = { peer: 'quicbridge', backend: opts.backend, role: 'client', mode: opts.mode };
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let ok = false;
  let connection: QuicConnection | undefined;
  try {
    connection = await connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      servername: opts.servername ?? 'localhost',
      ca: opts.ca ? pem(opts.ca) : undefined,
      insecureSkipVerify: opts.insecure,
      alpn: (opts.alpn ?? 'echo').split(','),
      backend: opts.backend,
      resumption: opts.resumption,
      earlyData: opts.earlyData,
      cipherSuites: opts.cipher === 'CHACHA20' ? CHACHA : undefined,
      keylog: opts.keylog,
      signal: AbortSignal.timeout(timeoutMs),
      ...opts.connect,
      transport: { ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}), ...opts.connect?.transport },
    });
    const conn = connection;
    const mode = { echo: echoMode, streams: streamsMode, datagrams: datagramsMode }[opts.mode];
    let timer: NodeJS.Timeout | undefined;
    ok = await Promise.race([
      mode(conn, opts, result),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    const early = await conn.handshakeComplete;
    result.alpn = conn.alpn;
    result.early_data = early;
    result.early_data_accepted = early === 'accepted';
  } catch (e) {
    result.error = describeError(e);
    if (e instanceof QuicError) result.error_code = e.code;
    ok = false;
  } finally {
    if (connection) {
      const info = await Promise.race([connection.close(0, 'done'), new Promise((r) => setTimeout(r, 5000, 'close timed out'))]);
      result.close = info;
    }
  }
  result.elapsed_ms = Date.now() - started;
  result.ok = ok;
  return { ...(result as Omit<ClientResult, 'exitCode' | 'stderr'>), ok, exitCode: ok ? 0 : 1, stderr: '' };
}

// ---------------------------------------------------------------- as a program

function emit(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main(): Promise<number> {
  const { positionals, values: args } = parseArgs({
    allowPositionals: true,
    options: {
      backend: { type: 'string', default: process.env.QUICBRIDGE_BACKEND ?? 'native' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      alpn: { type: 'string', default: 'echo' },
      'idle-timeout': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      retry: { type: 'string' },
      'max-streams': { type: 'string' },
      cipher: { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      servername: { type: 'string', default: 'localhost' },
      mode: { type: 'string', default: 'echo' },
      bytes: { type: 'string', default: '1024' },
      streams: { type: 'string', default: '2000' },
      'stream-size': { type: 'string', default: '32' },
      datagrams: { type: 'string', default: '50' },
      'key-update': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '60' },
    },
  });
  const backend = args.backend as BackendName;
  const idleTimeoutMs = args['idle-timeout'] ? Number(args['idle-timeout']) * 1000 : undefined;
  const cipher = args.cipher === 'CHACHA20' ? 'CHACHA20' : undefined;
  if (positionals[0] === 'server') {
    if (!args.cert || !args.key) throw new Error('server needs --cert and --key');
    const server = await startQuicbridgeServer({
      backend,
      cert: args.cert,
      key: args.key,
      host: args.host,
      port: Number(args.port),
      alpn: args.alpn,
      retryPolicy: args.retry as RetryPolicy | undefined,
      maxStreams: args['max-streams'] ? Number(args['max-streams']) : undefined,
      cipher,
      idleTimeoutMs,
    });
    let reported = 0;
    const report = setInterval(() => {
      while (reported < server.events.length) emit(server.events[reported++]);
    }, 50);
    emit({ ...server.listening, host: server.host });
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    clearInterval(report);
    await server.stop();
    return 0;
  }
  if (positionals[0] === 'client') {
    const result = await runQuicbridgeClient({
      backend,
      host: args.host,
      port: Number(args.port),
      ca: args.ca,
      insecure: args.insecure,
      servername: args.servername,
      alpn: args.alpn,
      mode: args.mode as ClientOptions['mode'],
      bytes: Number(args.bytes),
      streams: Number(args.streams),
      streamSize: Number(args['stream-size']),
      datagrams: Number(args.datagrams),
      keyUpdate: args['key-update'],
      cipher,
      idleTimeoutMs,
      timeoutMs: Number(args.timeout) * 1000,
    });
    const { exitCode: _exit, stderr: _stderr, ...line } = result;
    emit(line);
    return result.ok ? 0 : 1;
  }
  process.stderr.write('usage: quicbridge-peer.ts server|client [flags]\n');
  return 2;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`quicbridge-peer: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
