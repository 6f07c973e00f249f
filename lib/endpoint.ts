import dns from 'node:dns/promises';
import net from 'node:net';

import type { Backend, BoundEndpoint } from './backend';
import { QuicConnection } from './connection';
import { awaitBinding, callBinding, invalidArg } from './errors';
import { loadBackend } from './loader';
import {
  checkIp,
  checkObject,
  checkPort,
  connectOptionsJson,
  type ConnectOptions,
  type ListenOptions,
  serverOptionsJson,
} from './options';

export interface SocketAddress {
  address: string;
  port: number;
}

/** Closes an endpoint, lets its connections drain, and releases its socket: once. */
function shutdown(bound: BoundEndpoint, code: number, reason: string): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= (async () => {
      callBinding(() => bound.endpoint.close(code, reason));
      await bound.endpoint.waitIdle();
      await bound.release();
    })();
    return done;
  };
}

/** A listening QUIC server: an endpoint that accepts connections. */
export class QuicServer implements AsyncIterable<QuicConnection> {
  readonly #bound: BoundEndpoint;
  readonly #backend: Backend;
  #closing: (() => Promise<void>) | undefined;

  /** @internal */
  constructor(bound: BoundEndpoint, backend: Backend) {
    this.#bound = bound;
    this.#backend = backend;
  }

  /** The backend this server runs on. */
  get backend(): Backend['name'] {
    return this.#backend.name;
  }

  /** Where the server is bound (the port is the real one when 0 was asked for). */
  get address(): SocketAddress {
    return JSON.parse(callBinding(() => this.#bound.endpoint.localAddress())) as SocketAddress;
  }

  /** The next established connection; `null` once the server is closed. */
  async accept(): Promise<QuicConnection | null> {
    const handle = await awaitBinding(this.#bound.endpoint.accept());
    return handle ? new QuicConnection(handle, this.#backend.name) : null;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<QuicConnection> {
    for (;;) {
      const connection = await this.accept();
      if (connection === null) return;
      yield connection;
    }
  }

  /**
   * Stops accepting, closes every connection with `code` and `reason`, waits
   * for them to drain, and releases the socket.
   */
  close(code = 0, reason = ''): Promise<void> {
    if (typeof reason !== 'string') throw invalidArg(`reason must be a string, got ${typeof reason}`);
    this.#closing ??= shutdown(this.#bound, code, reason);
    return this.#closing();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts a QUIC server. With `onConnection`, every established connection
 * is handed to it (a handler that throws closes that connection);
 * otherwise take them with `accept()` or `for await`.
 */
export async function listen(
  options: ListenOptions,
  onConnection?: (connection: QuicConnection) => void | Promise<void>,
): Promise<QuicServer> {
  checkObject(options, 'options');
  if (onConnection !== undefined && typeof onConnection !== 'function') {
    throw invalidArg('onConnection must be a function');
  }
  const address = checkIp(options.address ?? '127.0.0.1', 'address');
  const port = checkPort(options.port ?? 0, 'port', 0);
  const json = serverOptionsJson(options);
  const backend = loadBackend(options.backend);
  const bound = await awaitBinding(backend.bind(address, port, json));
  const server = new QuicServer(bound, backend);
  if (onConnection) {
    void (async () => {
      for await (const connection of server) {
        Promise.resolve()
          .then(() => onConnection(connection))
          .catch((error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            connection.close(1, `handler failed: ${message}`.slice(0, 1024)).catch(() => {});
          });
      }
    })();
  }
  return server;
}

function isLoopback(ip: string): boolean {
  return net.isIPv4(ip) ? ip.startsWith('127.') : ip === '::1';
}

/**
 * Connects to a QUIC server on a new endpoint of its own, which is closed
 * and released when the connection ends.
 */
export async function connect(options: ConnectOptions): Promise<QuicConnection> {
  checkObject(options, 'options');
  if (typeof options.host !== 'string' || options.host.length === 0) {
    throw invalidArg(`host must be a host name or IP address, got ${typeof options.host}`);
  }
  checkPort(options.port, 'port', 1);
  if (options.family !== undefined && options.family !== 4 && options.family !== 6) {
    throw invalidArg(`family must be 4 or 6, got ${String(options.family)}`);
  }
  const backend = loadBackend(options.backend);
  const { address, family } = net.isIP(options.host)
    ? { address: options.host, family: net.isIP(options.host) }
    : await dns.lookup(options.host, { family: options.family ?? 0 });
  const json = connectOptionsJson(options, address);
  // A client talking to loopback stays on loopback.
  const local = isLoopback(address) ? address.replace(/^127\..*/, '127.0.0.1') : family === 6 ? '::' : '0.0.0.0';
  const bound = await awaitBinding(backend.bind(local, 0, '{}'));
  const release = shutdown(bound, 0, '');
  try {
    const handle = await awaitBinding(bound.endpoint.connect(json));
    return new QuicConnection(handle, backend.name, release);
  } catch (error) {
    await release();
    throw error;
  }
}
