import dns from 'node:dns/promises';
import net from 'node:net';

import { raceAbort, signalOf, type AbortOptions } from './abort';
import type { Backend, BackendConnection, BackendName, BoundEndpoint } from './backend';
import { bindEndpoint, localAddressOf, shutdown } from './bound-endpoint';
import { QuicConnection, type SocketAddress } from './connection';
import type { DatagramTransport } from './datagram-transport';
import { awaitBinding, callBinding, invalidArg, invalidState, quicError } from './errors';
import { holdLoop, type LoopHold } from './keep-alive';
import { loadBackend } from './loader';
import {
  checkBoolean,
  checkCode,
  checkDatagramTransport,
  checkInteger,
  checkIp,
  checkObject,
  checkPort,
  checkReason,
  connectOptionsJson,
  type ConnectOptions,
  describeValue,
  type EndpointListenOptions,
  type KeyLogOption,
  serverOptions,
} from './options';
import { acceptAll, checkHandler, type ConnectionHandler, serve } from './server';
import { SharedAccept } from './shared-accept';

export interface EndpointOptions {
  /** IP address to bind (default `127.0.0.1`; `0.0.0.0` or `::` to reach other hosts). */
  address?: string;
  /** UDP port; 0 (the default) picks a free one. */
  port?: number;
  /** Use this backend rather than the loader's choice. */
  backend?: BackendName;
  /** The largest UDP payload the endpoint accepts, 1200–65527 (as `transport.maxUdpPayloadSize`). */
  maxUdpPayloadSize?: number;
  /** Where the TLS secrets of every connection on the endpoint go. */
  keylog?: KeyLogOption;
  /** Run on a caller-supplied datagram transport instead of a UDP socket (wasm backend). */
  datagramTransport?: DatagramTransport;
}

/** What `QuicEndpoint.connect()` takes: `connect()`'s options, less those that choose the endpoint. */
export type EndpointConnectOptions = Omit<ConnectOptions, 'localAddress' | 'backend' | 'datagramTransport' | 'keylog' | 'reuseEndpoint'>;

/** When an endpoint made for `connect()` goes away: never (one the caller bound), or with its last connection. */
interface Lifetime {
  closeWhenIdle: boolean;
  /** The connection may move the endpoint to another socket (it has the endpoint to itself). */
  rebindable: boolean;
  /** Called once, when the endpoint starts closing. */
  onClosing?: () => void;
}

const CALLER_OWNED: Lifetime = { closeWhenIdle: false, rebindable: false };

/**
 * A QUIC endpoint: one UDP socket (or datagram transport) that any number
 * of client connections share, as quinn's and node:quic's endpoints do,
 * and that can accept connections too (`listen()`). `connect()` uses one
 * of its own per backend and local address; bind one with
 * `QuicEndpoint.bind()` to choose the socket, to keep it between
 * connections, to serve and connect from one port, or to move all of its
 * connections to another socket with `rebind()`.
 */
export class QuicEndpoint implements AsyncIterable<QuicConnection> {
  readonly #bound: BoundEndpoint;
  readonly #backend: Backend;
  readonly #lifetime: Lifetime;
  readonly #hold: LoopHold;
  readonly #shutdown: (code: number, reason: string) => Promise<void>;
  /** Connections on the endpoint, and connects under way. */
  #users = 0;
  #closing = false;
  #accept: SharedAccept<BackendConnection | null> | undefined;

  /** @internal */
  private constructor(bound: BoundEndpoint, backend: Backend, lifetime: Lifetime, closeKeyLog: () => void) {
    this.#bound = bound;
    this.#backend = backend;
    this.#lifetime = lifetime;
    this.#hold = holdLoop();
    // An endpoint made for connect() lives on its connections' holds.
    if (lifetime.closeWhenIdle) this.#hold.unref();
    this.#shutdown = shutdown(bound, this.#hold, closeKeyLog);
  }

  /** Binds an endpoint for client connections. It holds the process open until closed (see `unref()`). */
  static bind(options: EndpointOptions = {}): Promise<QuicEndpoint> {
    return QuicEndpoint.#bind(options, CALLER_OWNED);
  }

  static async #bind(options: EndpointOptions, lifetime: Lifetime): Promise<QuicEndpoint> {
    checkObject(options, 'options');
    const address = checkIp(options.address ?? '127.0.0.1', 'address');
    const port = checkPort(options.port ?? 0, 'port', 0);
    const maxUdpPayloadSize =
      options.maxUdpPayloadSize === undefined ? undefined : checkInteger(options.maxUdpPayloadSize, 'maxUdpPayloadSize', 1200, 65527);
    const transport = options.datagramTransport === undefined ? undefined : checkDatagramTransport(options.datagramTransport);
    const backend = loadBackend((options.backend as BackendName | undefined) ?? (transport ? 'wasm' : undefined));
    const { bound, closeKeyLog } = await bindEndpoint(backend, transport, address, port, JSON.stringify({ maxUdpPayloadSize }), options.keylog);
    return new QuicEndpoint(bound, backend, lifetime, closeKeyLog);
  }

  /** The backend this endpoint runs on. */
  get backend(): BackendName {
    return this.#backend.name;
  }

  /** Where the endpoint is bound (the port is the real one when 0 was asked for). */
  get address(): SocketAddress {
    return localAddressOf(this.#bound);
  }

  /** Connections open on this endpoint, handshaking ones included. */
  get connectionCount(): number {
    return this.#bound.endpoint.openConnections();
  }

  /** Connects to a QUIC server from this endpoint. */
  connect(options: EndpointConnectOptions): Promise<QuicConnection> {
    checkObject(options, 'options');
    checkTarget(options);
    signalOf(options);
    if (this.#closing) return Promise.reject(invalidState('the endpoint is closed'));
    this.#users += 1;
    return this.#connectAsUser(options);
  }

  /**
   * Starts accepting connections on this endpoint, with `options`'
   * certificate, ALPN and limits; with `onConnection`, every established
   * connection is handed to it (a handler that throws closes that
   * connection with code 1), otherwise take them with `accept()` or `for
   * await`. The endpoint keeps the largest UDP payload it was bound with.
   */
  listen(options: EndpointListenOptions, onConnection?: ConnectionHandler): void {
    checkObject(options, 'options');
    checkHandler(onConnection);
    if (this.#lifetime.closeWhenIdle) throw invalidState('an endpoint connect() made cannot listen; bind one with QuicEndpoint.bind()');
    if (this.#closing) throw invalidState('the endpoint is closed');
    if (this.#accept) throw invalidState('the endpoint is already listening');
    const json = JSON.stringify(serverOptions(options));
    callBinding(() => this.#bound.endpoint.listen(json));
    this.#accept = new SharedAccept(() => awaitBinding(this.#bound.endpoint.accept()));
    if (onConnection) serve(this, onConnection);
  }

  /** The next connection the endpoint accepted (see `listen()`); `null` once it is closed. */
  async accept(options?: AbortOptions): Promise<QuicConnection | null> {
    if (!this.#accept) throw invalidState('the endpoint is not listening; call listen() first');
    const handle = await this.#accept.next(signalOf(options));
    return handle ? new QuicConnection(handle, this.#backend.name) : null;
  }

  [Symbol.asyncIterator](): AsyncGenerator<QuicConnection> {
    return acceptAll(this);
  }

  /** Connects, for a user already counted (who leaves again if it fails). */
  async #connectAsUser(options: ConnectOptions): Promise<QuicConnection> {
    const signal = signalOf(options);
    // Held from the start: while the handshake runs, nothing else may be
    // keeping the process alive.
    const hold = holdLoop();
    try {
      const local = this.address.address;
      const { address } = await raceAbort(resolveHost(options.host, options.family ?? (net.isIPv4(local) ? 4 : 6)), signal, () => {});
      const json = connectOptionsJson({ ...options, host: address, servername: options.servername ?? options.host }, address);
      const handle = await raceAbort(awaitBinding(this.#bound.endpoint.connect(json)), signal, (late) => late.close(0, 'aborted'));
      const rebind = this.#lifetime.rebindable ? (to: string, port: number) => this.#rebindTo(to, port) : undefined;
      return new QuicConnection(handle, this.#backend.name, { hold, rebind, ended: () => this.#leave() });
    } catch (error) {
      // Held until the endpoint is done with the attempt: an endpoint that
      // closes with it drains first, and nothing else may be keeping the
      // process alive to see the error.
      await this.#leave();
      hold.release();
      throw error;
    }
  }

  /** One connection fewer; an endpoint made for connect() closes with its last. */
  #leave(): Promise<void> {
    this.#users -= 1;
    if (this.#users > 0 || !this.#lifetime.closeWhenIdle) return Promise.resolve();
    return this.#close(0, '');
  }

  #close(code: number, reason: string): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#lifetime.onClosing?.();
    }
    return this.#shutdown(code, reason);
  }

  /**
   * Moves the endpoint to a new local socket (default: a new port on the
   * same address): every connection on it migrates.
   */
  async rebind(options: { address?: string; port?: number } = {}): Promise<SocketAddress> {
    checkObject(options, 'options');
    const address = checkIp(options.address ?? this.address.address, 'address');
    const port = checkPort(options.port ?? 0, 'port', 0);
    await this.#rebindTo(address, port);
    return this.address;
  }

  async #rebindTo(address: string, port: number): Promise<void> {
    if (this.#closing) throw invalidState('the endpoint is closed');
    await awaitBinding(this.#bound.rebind(address, port));
  }

  /** Lets the process exit while this endpoint is all that is open. */
  unref(): this {
    this.#hold.unref();
    return this;
  }

  /** Undoes `unref()`. */
  ref(): this {
    if (!this.#lifetime.closeWhenIdle) this.#hold.ref();
    return this;
  }

  /** Closes every connection on the endpoint with `code` and `reason`, waits for them to drain, and releases the socket. */
  close(code = 0, reason = ''): Promise<void> {
    checkCode(code);
    checkReason(reason);
    return this.#close(code, reason);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * What `connect()` does once it knows the local address: a shared
   * endpoint per backend, local address and largest UDP payload, or, for a
   * connection that must be able to rebind, that has a key log or a
   * datagram transport, an endpoint of its own. Either closes with its
   * last connection.
   * @internal
   */
  static async connectFrom(local: string, options: ConnectOptions): Promise<QuicConnection> {
    const endpointOptions: EndpointOptions = {
      address: local,
      backend: options.backend,
      maxUdpPayloadSize: options.transport?.maxUdpPayloadSize,
      keylog: options.keylog,
      datagramTransport: options.datagramTransport,
    };
    const reuse = options.reuseEndpoint === undefined ? true : checkBoolean(options.reuseEndpoint, 'reuseEndpoint');
    if (!reuse || options.keylog !== undefined || options.datagramTransport !== undefined) {
      const own = await QuicEndpoint.#bind(endpointOptions, { closeWhenIdle: true, rebindable: true });
      own.#users += 1;
      return own.#connectAsUser(options);
    }
    const backend = loadBackend(options.backend);
    const key = `${backend.name} ${local} ${String(endpointOptions.maxUdpPayloadSize)}`;
    for (;;) {
      let shared = sharedEndpoints.get(key);
      if (!shared) {
        // The entry goes as soon as the endpoint starts closing (or fails to
        // bind): the next connect() binds a new one.
        const forget = (): void => {
          if (sharedEndpoints.get(key) === shared) sharedEndpoints.delete(key);
        };
        shared = QuicEndpoint.#bind({ ...endpointOptions, backend: backend.name }, { closeWhenIdle: true, rebindable: false, onClosing: forget });
        sharedEndpoints.set(key, shared);
        shared.catch(forget);
      }
      const endpoint = await shared;
      // It may have closed with its last connection while this call waited.
      if (endpoint.#closing) continue;
      endpoint.#users += 1;
      return endpoint.#connectAsUser(options);
    }
  }
}

/** The endpoints connect() shares, by backend, local address and largest UDP payload. */
const sharedEndpoints = new Map<string, Promise<QuicEndpoint>>();

function checkTarget(options: { host: unknown; port: unknown; family?: unknown }): void {
  if (typeof options.host !== 'string' || options.host.length === 0) {
    throw invalidArg(`host must be a host name or IP address, got ${typeof options.host}`);
  }
  checkPort(options.port, 'port', 1);
  if (options.family !== undefined && options.family !== 4 && options.family !== 6) {
    throw invalidArg(`family must be 4 or 6, got ${describeValue(options.family)}`);
  }
}

/** Resolves `host` (an IP address is taken as is); a name that does not resolve is a typed I/O failure. */
async function resolveHost(host: string, family: 0 | 4 | 6): Promise<{ address: string; family: number }> {
  if (net.isIP(host)) return { address: host, family: net.isIP(host) };
  try {
    return await dns.lookup(host, { family });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'lookup failed';
    throw quicError('ERR_QUIC_IO', `cannot resolve host ${JSON.stringify(host)}: ${code}`, {}, { cause: error });
  }
}

function isLoopback(ip: string): boolean {
  return net.isIPv4(ip) ? ip.startsWith('127.') : ip === '::1';
}

/**
 * Connects to a QUIC server. Connections share one endpoint (one UDP
 * socket) per backend and local address, which closes with the last of
 * them; `reuseEndpoint: false` gives a connection an endpoint of its own,
 * which it can `rebind()`.
 */
export async function connect(options: ConnectOptions): Promise<QuicConnection> {
  checkObject(options, 'options');
  checkTarget(options);
  const localAddress = options.localAddress === undefined ? undefined : checkIp(options.localAddress, 'localAddress');
  const signal = signalOf(options);
  if (options.datagramTransport !== undefined) checkDatagramTransport(options.datagramTransport);
  const { address, family } = await raceAbort(resolveHost(options.host, options.family ?? 0), signal, () => {});
  // A client talking to loopback stays on loopback.
  const local = localAddress ?? (isLoopback(address) ? (family === 6 ? '::1' : '127.0.0.1') : family === 6 ? '::' : '0.0.0.0');
  return QuicEndpoint.connectFrom(local, { ...options, host: address, family: family === 6 ? 6 : 4, servername: options.servername ?? options.host });
}
