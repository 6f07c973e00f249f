import { Readable, Writable } from 'node:stream';

import { raceAbort, signalOf, type AbortOptions } from './abort';
import type { BackendHttp3Session, BackendHttp3Stream } from './backend';
import { backendHandles, type CloseInfo, type QuicConnection } from './connection';
import { connect } from './quic-endpoint';
import { listen, type QuicServer } from './server';
import { awaitBinding, callBinding, invalidArg, invalidState } from './errors';
import { checkCode, checkObject, describeValue, type ConnectOptions, type ListenOptions } from './options';

/** Header fields in order, as `[name, value]` pairs. */
export type Http3Headers = [name: string, value: string][];
/** Headers as pairs, or as an object whose array values repeat a field. */
export type Http3HeadersInit = Http3Headers | Record<string, string | string[]>;
/** A request or response body. */
export type Http3Body = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

/** H3_REQUEST_CANCELLED (RFC 9114 §8.1): what an abandoned exchange is reset with. */
export const H3_REQUEST_CANCELLED = 0x10c;
/** H3_INTERNAL_ERROR: a handler failed after it had started answering. */
export const H3_INTERNAL_ERROR = 0x102;

const READ_CHUNK_BYTES = 64 * 1024;

function headersOf(init: Http3HeadersInit | undefined, field: string): Http3Headers {
  if (init === undefined) return [];
  const pairs: [string, unknown][] = Array.isArray(init)
    ? init.map((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw invalidArg(`${field}[${i}] must be a [name, value] pair`);
        return [pair[0], pair[1]];
      })
    : (checkObject(init, field), Object.entries(init).flatMap(([name, value]) => (Array.isArray(value) ? value.map((v) => [name, v] as [string, unknown]) : [[name, value] as [string, unknown]])));
  return pairs.map(([name, value]) => {
    if (typeof name !== 'string' || typeof value !== 'string') throw invalidArg(`${field}: names and values must be strings, got ${describeValue(value)} for ${String(name)}`);
    return [name.toLowerCase(), value];
  });
}

function header(headers: Http3Headers, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return headers.find(([n]) => n === wanted)?.[1];
}

/** A body coming in: the backend stream read as it is consumed (backpressure reaches the peer). */
class Http3BodyReadable extends Readable {
  readonly #stream: BackendHttp3Stream;
  #reading = false;

  constructor(stream: BackendHttp3Stream) {
    super({ highWaterMark: 256 * 1024 });
    this.#stream = stream;
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    awaitBinding(this.#stream.read(READ_CHUNK_BYTES)).then(
      (chunk) => {
        this.#reading = false;
        if (chunk === null) this.push(null);
        else if (this.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this._read();
      },
      (error: unknown) => {
        this.#reading = false;
        this.destroy(error as Error);
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.readableEnded) {
      try {
        this.#stream.stop(H3_REQUEST_CANCELLED);
      } catch {
        // a read is in flight or the stream is gone: nothing more to tell
      }
    }
    callback(error);
  }
}

async function readWhole(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readTrailers(stream: BackendHttp3Stream): Promise<Http3Headers | undefined> {
  const json = await awaitBinding(stream.trailers());
  return json === null ? undefined : (JSON.parse(json) as Http3Headers);
}

async function writeBody(stream: BackendHttp3Stream, body: Http3Body | undefined, trailers: Http3Headers | undefined): Promise<void> {
  if (typeof body === 'string') body = Buffer.from(body);
  if (body instanceof Uint8Array) {
    if (body.byteLength > 0) await awaitBinding(stream.write(body));
  } else if (body !== undefined) {
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      await awaitBinding(stream.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    }
  }
  await awaitBinding(stream.finish(trailers && trailers.length > 0 ? JSON.stringify(trailers) : null));
}

function checkBody(body: unknown): Http3Body | undefined {
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return body;
  if (typeof body === 'object' && body !== null && Symbol.asyncIterator in body) return body as Http3Body;
  throw invalidArg(`body must be a string, a Uint8Array, a Readable or an async iterable, got ${describeValue(body)}`);
}

/** A response, as a client receives it. */
export class Http3Response {
  readonly status: number;
  readonly headers: Http3Headers;
  /** The body, as it arrives. */
  readonly body: Readable;
  readonly #stream: BackendHttp3Stream;

  /** @internal */
  constructor(stream: BackendHttp3Stream, head: { status: number; headers: Http3Headers }) {
    this.#stream = stream;
    this.status = head.status;
    this.headers = head.headers;
    this.body = new Http3BodyReadable(stream);
  }

  /** The first value of a header field (names are case-insensitive). */
  header(name: string): string | undefined {
    return header(this.headers, name);
  }

  /** The whole body. */
  bytes(): Promise<Buffer> {
    return readWhole(this.body);
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  /** Trailers sent after the body (read the body first); undefined if none. */
  trailers(): Promise<Http3Headers | undefined> {
    return readTrailers(this.#stream);
  }
}

export interface Http3RequestInit extends AbortOptions {
  /** Default GET (POST when there is a body). */
  method?: string;
  /** Default `host:port` of the connection. */
  authority?: string;
  /** Path and query (default `/`). */
  path?: string;
  scheme?: string;
  headers?: Http3HeadersInit;
  body?: Http3Body;
  /** Trailers to send after the body. */
  trailers?: Http3HeadersInit;
}

/** HTTP/3 over one QUIC connection, sending requests (many at once if need be). */
export class Http3Client {
  readonly connection: QuicConnection;
  readonly #session: BackendHttp3Session;
  readonly #authority: string;

  /** @internal */
  constructor(connection: QuicConnection, session: BackendHttp3Session, authority: string) {
    this.connection = connection;
    this.#session = session;
    this.#authority = authority;
  }

  /** Connects (ALPN `h3` unless given) and starts HTTP/3. */
  static async connect(options: Omit<ConnectOptions, 'alpn'> & { alpn?: string | string[] }): Promise<Http3Client> {
    const connection = await connect({ ...options, alpn: options.alpn ?? 'h3' });
    try {
      return await Http3Client.on(connection, `${options.servername ?? options.host}:${options.port}`);
    } catch (error) {
      await connection.close(0x101, 'HTTP/3 setup failed'); // H3_GENERAL_PROTOCOL_ERROR
      throw error;
    }
  }

  /** Starts HTTP/3 as the client of an existing connection. */
  static async on(connection: QuicConnection, authority?: string): Promise<Http3Client> {
    const handle = backendHandles.get(connection);
    if (!handle) throw invalidArg('connection must be a QuicConnection');
    const session = await awaitBinding(handle.http3(false));
    const remote = connection.remoteAddress;
    return new Http3Client(connection, session, authority ?? `${connection.servername ?? remote.address}:${remote.port}`);
  }

  /**
   * Sends a request: a URL (path and query are taken from it) or a request
   * description; resolves with the response head, the body streams after.
   */
  async request(input: string | URL | Http3RequestInit, init: Http3RequestInit = {}): Promise<Http3Response> {
    let options: Http3RequestInit;
    if (typeof input === 'string' || input instanceof URL) {
      let url: URL;
      try {
        url = new URL(input);
      } catch {
        throw invalidArg(`not a URL: ${String(input)}`);
      }
      checkObject(init, 'init');
      const defined = Object.fromEntries(Object.entries(init).filter(([, value]) => value !== undefined)) as Http3RequestInit;
      options = { authority: url.host, path: `${url.pathname}${url.search}`, ...defined };
    } else {
      checkObject(input, 'request');
      options = input;
    }
    const signal = signalOf(options);
    const body = checkBody(options.body);
    for (const field of ['method', 'authority', 'path', 'scheme'] as const) {
      if (options[field] !== undefined && typeof options[field] !== 'string') throw invalidArg(`${field} must be a string, got ${describeValue(options[field])}`);
    }
    const head = {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      scheme: options.scheme ?? 'https',
      authority: options.authority ?? this.#authority,
      path: options.path ?? '/',
      headers: headersOf(options.headers, 'headers'),
    };
    const trailers = headersOf(options.trailers, 'trailers');
    const stream = await raceAbort(awaitBinding(this.#session.request(JSON.stringify(head))), signal, (late) => cancel(late));
    const sending = writeBody(stream, body, trailers);
    // Sending failures show up in the response; do not let them go unhandled.
    sending.catch(() => {});
    const onAbort = () => cancel(stream);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const responseHead = JSON.parse(await raceAbort(awaitBinding(stream.responseHead()), signal, () => {})) as { status: number; headers: Http3Headers };
      return new Http3Response(stream, responseHead);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Closes the connection (H3_NO_ERROR). */
  close(): Promise<CloseInfo> {
    return this.connection.close(0x100, '');
  }
}

function cancel(stream: BackendHttp3Stream): void {
  for (const abandon of [() => stream.reset(H3_REQUEST_CANCELLED), () => stream.stop(H3_REQUEST_CANCELLED)]) {
    try {
      abandon();
    } catch {
      // busy or gone
    }
  }
}

/** A request, as a server receives it. */
export class Http3Request {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Http3Headers;
  readonly body: Readable;
  readonly connection: QuicConnection;
  readonly #stream: BackendHttp3Stream;

  /** @internal */
  constructor(stream: BackendHttp3Stream, connection: QuicConnection) {
    const head = JSON.parse(stream.requestHead() ?? '{}') as { method: string; scheme: string; authority: string; path: string; headers: Http3Headers };
    this.method = head.method;
    this.scheme = head.scheme;
    this.authority = head.authority;
    this.path = head.path;
    this.headers = head.headers;
    this.body = new Http3BodyReadable(stream);
    this.connection = connection;
    this.#stream = stream;
  }

  header(name: string): string | undefined {
    return header(this.headers, name);
  }

  /** The whole body. */
  bytes(): Promise<Buffer> {
    return readWhole(this.body);
  }

  /** Trailers sent after the body (read the body first); undefined if none. */
  trailers(): Promise<Http3Headers | undefined> {
    return readTrailers(this.#stream);
  }
}

/**
 * The answer to a request: `respond()` sends the status and headers, then
 * the body is written like any Writable; `end()` finishes it (with the
 * trailers set by `setTrailers()`, if any).
 */
export class Http3ServerResponse extends Writable {
  readonly #stream: BackendHttp3Stream;
  #responded: Promise<void> | undefined;
  #trailers: Http3Headers = [];

  /** @internal */
  constructor(stream: BackendHttp3Stream) {
    super({ highWaterMark: 256 * 1024 });
    this.#stream = stream;
  }

  /** Whether the head has been sent. */
  get headersSent(): boolean {
    return this.#responded !== undefined;
  }

  /** Sends the status and headers (once; writing a body without it sends 200). */
  respond(status: number, headers?: Http3HeadersInit): Promise<void> {
    if (this.#responded) throw invalidState('the response head was already sent');
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 999) {
      throw invalidArg(`status must be an integer from 100 to 999, got ${describeValue(status)}`);
    }
    this.#responded = awaitBinding(this.#stream.respond(JSON.stringify({ status, headers: headersOf(headers, 'headers') })));
    return this.#responded;
  }

  /** Trailers to send after the body. */
  setTrailers(trailers: Http3HeadersInit): void {
    this.#trailers = headersOf(trailers, 'trailers');
  }

  #head(): Promise<void> {
    return this.#responded ?? this.respond(200);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#head()
      .then(() => awaitBinding(this.#stream.write(chunk)))
      .then(() => callback(), (error: unknown) => callback(error as Error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#head()
      .then(() => awaitBinding(this.#stream.finish(this.#trailers.length > 0 ? JSON.stringify(this.#trailers) : null)))
      .then(() => callback(), (error: unknown) => callback(error as Error));
  }

  /** Abandons the response with an HTTP/3 error code (default H3_INTERNAL_ERROR). */
  reset(code = H3_INTERNAL_ERROR): void {
    checkCode(code);
    callBinding(() => this.#stream.reset(code));
    this.destroy();
  }
}

export type Http3Handler = (request: Http3Request, response: Http3ServerResponse) => void | Promise<void>;

/** Serves HTTP/3 on an existing (server-side) connection until it closes. */
export async function serveHttp3(connection: QuicConnection, handler: Http3Handler): Promise<void> {
  const handle = backendHandles.get(connection);
  if (!handle) throw invalidArg('connection must be a QuicConnection');
  const session = await awaitBinding(handle.http3(true));
  for (;;) {
    let stream: BackendHttp3Stream | null;
    try {
      stream = await awaitBinding(session.accept());
    } catch {
      return; // the connection ended; `closed` says how
    }
    if (stream === null) return;
    const request = new Http3Request(stream, connection);
    const response = new Http3ServerResponse(stream);
    Promise.resolve()
      .then(() => handler(request, response))
      .catch((error: unknown) => {
        // An answer not yet begun becomes a 500; one midway is reset.
        if (!response.headersSent && !response.writableEnded) {
          response.respond(500, { 'content-type': 'text/plain' }).catch(() => {});
          response.end(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
        } else if (!response.writableFinished) {
          try {
            response.reset(H3_INTERNAL_ERROR);
          } catch {
            // already gone
          }
        }
      });
  }
}

/** Starts an HTTP/3 server (ALPN `h3` unless given): every request goes to `handler`. */
export function listenHttp3(options: Omit<ListenOptions, 'alpn'> & { alpn?: string | string[] }, handler: Http3Handler): Promise<QuicServer> {
  if (typeof handler !== 'function') throw invalidArg('handler must be a function');
  return listen({ ...options, alpn: options.alpn ?? 'h3' }, (connection) => serveHttp3(connection, handler));
}

/**
 * One request on a connection of its own, closed when the response body
 * has been read: `const res = await http3Request('https://host:4433/x', { ca })`.
 */
export async function http3Request(
  url: string | URL,
  options: Omit<ConnectOptions, 'alpn' | 'host' | 'port'> & Http3RequestInit & { alpn?: string | string[] },
): Promise<Http3Response> {
  if (typeof options !== 'object' || options === null) throw invalidArg(`options must be an object, got ${describeValue(options)}`);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw invalidArg(`not a URL: ${String(url)}`);
  }
  if (target.protocol !== 'https:') throw invalidArg(`HTTP/3 URLs are https:, got ${target.protocol}`);
  const { method, authority, path, scheme, headers, body, trailers, signal, ...connectOptions } = options;
  const client = await Http3Client.connect({
    ...connectOptions,
    signal,
    host: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port ? Number(target.port) : 443,
  });
  try {
    const response = await client.request(target, { method, authority, path, scheme, headers, body, trailers, signal });
    response.body.once('close', () => void client.close());
    return response;
  } catch (error) {
    await client.close();
    throw error;
  }
}
