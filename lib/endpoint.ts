import dns from 'node:dns/promises';
import net from 'node:net';

import { raceAbort, signalOf, type AbortOptions } from './abort';
import type { Backend, BackendConnection, BoundEndpoint } from './backend';
import { QuicConnection, type SocketAddress } from './connection';
import type { DatagramTransport } from './datagram-transport';
import { awaitBinding, callBinding, invalidArg, quicError } from './errors';
import { holdLoop, type LoopHold } from './keep-alive';
import { loadBackend } from './loader';
import {
  checkCode,
  checkDatagramTransport,
  checkIp,
  checkObject,
  checkPort,
  checkReason,
  clientEndpointOptionsJson,
  connectOptionsJson,
  type ConnectOptions,
  keyLogSink,
  type ListenOptions,
  serverOptionsJson,
} from './options';

/** The longest a closing endpoint waits for its connections to drain. */
const DRAIN_LIMIT_MS = 10_000;

/** Closes an endpoint, lets its connections drain, and releases its socket: once. */
function shutdown(bound: BoundEndpoint, hold: LoopHold, onReleased: () => void): (code: number, reason: string) => Promise<void> {
  let done: Promise<void> | undefined;
  return (code, reason) => {
    done ??= (async () => {
      callBinding(() => bound.endpoint.close(code, reason));
      // Draining takes three probe timeouts; a peer that never answers must
      // not keep the socket (and the process) forever.
      let limit: NodeJS.Timeout | undefined;
      try {
        await Promise.race([bound.endpoint.waitIdle(), new Promise((resolve) => (limit = setTimeout(resolve, DRAIN_LIMIT_MS).unref()))]);
      } finally {
        // A pending limit would keep this closure, and the endpoint, for its full 10 s.
        clearTimeout(limit);
      }
      await bound.release();
      hold.release();
      onReleased();
    })();
    return done;
  };
}

/** A listening QUIC server: an endpoint that accepts connections. */
export class QuicServer implements AsyncIterable<QuicConnection> {
  readonly #bound: BoundEndpoint;
  readonly #backend: Backend;
  readonly #shutdown: (code: number, reason: string) => Promise<void>;
  readonly #hold = holdLoop();
  #pendingAccept: Promise<BackendConnection | null> | undefined;

  /** @internal */
  constructor(bound: BoundEndpoint, backend: Backend, onClosed: () => void) {
    this.#bound = bound;
    this.#backend = backend;
    this.#shutdown = shutdown(bound, this.#hold, onClosed);
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
    return JSON.parse(callBinding(() => this.#bound.endpoint.localAddress())) as SocketAddress;
  }

  /** Connections open on this server, handshaking ones included. */
  get connectionCount(): number {
    return this.#bound.endpoint.openConnections();
  }

  /** The next established connection; `null` once the server is closed. */
  async accept(options?: AbortOptions): Promise<QuicConnection | null> {
    const signal = signalOf(options);
    for (;;) {
      // One backend accept at a time; a caller that aborts leaves it for the
      // next caller, so no connection is lost.
      const pending = (this.#pendingAccept ??= awaitBinding(this.#bound.endpoint.accept()));
      const handle = await raceAbort(pending, signal, () => {});
      if (this.#pendingAccept !== pending) continue; // another caller claimed it
      this.#pendingAccept = undefined;
      return handle ? new QuicConnection(handle, this.#backend.name) : null;
    }
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
  const transport = options.datagramTransport === undefined ? undefined : checkDatagramTransport(options.datagramTransport);
  const backend = loadBackend(options.backend ?? (transport ? 'wasm' : undefined));
  const keylog = keyLogSink(options.keylog);
  let bound: BoundEndpoint;
  try {
    bound = await bindEndpoint(backend, transport, address, port, json, keylog.callback);
  } catch (error) {
    keylog.close();
    throw error;
  }
  const server = new QuicServer(bound, backend, () => keylog.close());
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

/** An endpoint on a UDP socket of the backend's, or on the caller's datagram transport. */
function bindEndpoint(
  backend: Backend,
  transport: DatagramTransport | undefined,
  address: string,
  port: number,
  options: string,
  keylog: ((line: string) => void) | undefined,
): Promise<BoundEndpoint> {
  if (!transport) return awaitBinding(backend.bind(address, port, options, keylog));
  if (!backend.bindTransport) {
    throw quicError('ERR_QUIC_BACKEND_UNSUPPORTED', `the ${backend.name} backend owns its UDP sockets and cannot run on a datagramTransport; use the wasm backend`);
  }
  return Promise.resolve(callBinding(() => backend.bindTransport!(transport, options, keylog)));
}

function isLoopback(ip: string): boolean {
  return net.isIPv4(ip) ? ip.startsWith('127.') : ip === '::1';
}

async function resolveHost(host: string, family: 0 | 4 | 6): Promise<{ address: string; family: number }> {
  if (net.isIP(host)) return { address: host, family: net.isIP(host) };
  try {
    return await dns.lookup(host, { family });
  } catch (error) {
    // A name that does not resolve is an I/O failure like any other: typed.
    const code = (error as NodeJS.ErrnoException).code ?? 'lookup failed';
    throw quicError('ERR_QUIC_IO', `cannot resolve host ${JSON.stringify(host)}: ${code}`, {}, { cause: error });
  }
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
  const localAddress = options.localAddress === undefined ? undefined : checkIp(options.localAddress, 'localAddress');
  const signal = signalOf(options);
  const transport = options.datagramTransport === undefined ? undefined : checkDatagramTransport(options.datagramTransport);
  const backend = loadBackend(options.backend ?? (transport ? 'wasm' : undefined));
  const { address, family } = await raceAbort(resolveHost(options.host, options.family ?? 0), signal, () => {});
  const json = connectOptionsJson(options, address);
  // A client talking to loopback stays on loopback.
  const local = localAddress ?? (isLoopback(address) ? (family === 6 ? '::1' : '127.0.0.1') : family === 6 ? '::' : '0.0.0.0');
  const keylog = keyLogSink(options.keylog);
  let bound: BoundEndpoint;
  try {
    bound = await bindEndpoint(backend, transport, local, 0, clientEndpointOptionsJson(options), keylog.callback);
  } catch (error) {
    keylog.close();
    throw error;
  }
  const hold = holdLoop();
  const release = shutdown(bound, hold, () => keylog.close());
  try {
    // Aborting closes the endpoint, which ends the handshake for real.
    const handle = await raceAbort(awaitBinding(bound.endpoint.connect(json)), signal, (late) => late.close(0, 'aborted'));
    return new QuicConnection(handle, backend.name, { bound, hold }, () => release(0, ''));
  } catch (error) {
    await release(0, 'connect failed');
    throw error;
  }
}
