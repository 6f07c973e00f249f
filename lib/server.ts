import { signalOf, type AbortOptions } from './abort';
import type { Backend, BackendConnection, BoundEndpoint } from './backend';
import { bindEndpoint, localAddressOf, shutdown } from './bound-endpoint';
import { QuicConnection, type SocketAddress } from './connection';
import { awaitBinding, invalidArg } from './errors';
import { holdLoop } from './keep-alive';
import { loadBackend } from './loader';
import { checkCode, checkDatagramTransport, checkIp, checkObject, checkPort, checkReason, type ListenOptions, serverOptions } from './options';
import { SharedAccept } from './shared-accept';

/** A listening QUIC server: an endpoint that accepts connections. */
export class QuicServer implements AsyncIterable<QuicConnection> {
  readonly #bound: BoundEndpoint;
  readonly #backend: Backend;
  readonly #shutdown: (code: number, reason: string) => Promise<void>;
  readonly #hold = holdLoop();
  readonly #accept: SharedAccept<BackendConnection | null>;

  /** @internal */
  constructor(bound: BoundEndpoint, backend: Backend, onClosed: () => void) {
    this.#bound = bound;
    this.#backend = backend;
    this.#shutdown = shutdown(bound, this.#hold, onClosed);
    this.#accept = new SharedAccept(() => awaitBinding(bound.endpoint.accept()));
  }

  /** Lets the process exit while this server is the only thing open (as `net.Server.unref()`). */
  unref(): this {
    this.#hold.unref();
    return this;
  }

  /** Undoes `unref()`. */
  ref(): this {
    this.#hold.ref();
    return this;
  }

  /** The backend this server runs on. */
  get backend(): Backend['name'] {
    return this.#backend.name;
  }

  /** Where the server is bound (the port is the real one when 0 was asked for). */
  get address(): SocketAddress {
    return localAddressOf(this.#bound);
  }

  /** Connections open on this server, handshaking ones included. */
  get connectionCount(): number {
    return this.#bound.endpoint.openConnections();
  }

  /** The next established connection; `null` once the server is closed. */
  async accept(options?: AbortOptions): Promise<QuicConnection | null> {
    const handle = await this.#accept.next(signalOf(options));
    return handle ? new QuicConnection(handle, this.#backend.name) : null;
  }

  [Symbol.asyncIterator](): AsyncGenerator<QuicConnection> {
    return acceptAll(this);
  }

  /**
   * Stops accepting, closes every connection with `code` and `reason`, waits
   * for them to drain, and releases the socket.
   */
  close(code = 0, reason = ''): Promise<void> {
    checkCode(code);
    checkReason(reason);
    return this.#shutdown(code, reason);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts a QUIC server. With `onConnection`, every established connection
 * is handed to it (a handler that throws closes that connection with code
 * 1); otherwise take them with `accept()` or `for await`.
 */
export async function listen(options: ListenOptions, onConnection?: ConnectionHandler): Promise<QuicServer> {
  checkObject(options, 'options');
  checkHandler(onConnection);
  const address = checkIp(options.address ?? '127.0.0.1', 'address');
  const port = checkPort(options.port ?? 0, 'port', 0);
  const json = JSON.stringify({ server: serverOptions(options) });
  const transport = options.datagramTransport === undefined ? undefined : checkDatagramTransport(options.datagramTransport);
  const backend = loadBackend(options.backend ?? (transport ? 'wasm' : undefined));
  const { bound, closeKeyLog } = await bindEndpoint(backend, transport, address, port, json, options.keylog);
  const server = new QuicServer(bound, backend, closeKeyLog);
  if (onConnection) serve(server, onConnection);
  return server;
}

/** Takes connections until `accept()` says there are no more. */
export async function* acceptAll(from: { accept(): Promise<QuicConnection | null> }): AsyncGenerator<QuicConnection> {
  for (;;) {
    const connection = await from.accept();
    if (connection === null) return;
    yield connection;
  }
}

export type ConnectionHandler = (connection: QuicConnection) => void | Promise<void>;

export function checkHandler(onConnection: unknown): void {
  if (onConnection !== undefined && typeof onConnection !== 'function') {
    throw invalidArg('onConnection must be a function');
  }
}

/** Hands every connection `from` accepts to `onConnection`; one it fails on is closed with code 1. */
export function serve(from: AsyncIterable<QuicConnection>, onConnection: ConnectionHandler): void {
  void (async () => {
    for await (const connection of from) {
      Promise.resolve()
        .then(() => onConnection(connection))
        .catch((error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          connection.close(1, `handler failed: ${message}`.slice(0, 1024)).catch(() => {});
        });
    }
  })();
}
