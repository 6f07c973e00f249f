import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';

import { abortError, raceAbort, signalOf, type AbortOptions } from './abort';
import type { BackendConnection, BackendName, BackendStream, EarlyDataState } from './backend';
import type { LoopHold } from './keep-alive';
import { awaitBinding, callBinding, invalidArg, invalidState, QuicConnectionError, QuicTlsError } from './errors';
import { checkCode, checkIp, checkObject, checkPort, checkReason, describeValue } from './options';
import { SharedAccept } from './shared-accept';
import { QuicStream } from './stream';

export type CloseKind = 'application' | 'transport' | 'idleTimeout' | 'statelessReset' | 'versionMismatch' | 'cidsExhausted';

/** How a connection ended. */
export interface CloseInfo {
  kind: CloseKind;
  /** Application or transport error code (0 for kinds without one). */
  code: number;
  reason: string;
  /** True when the peer closed the connection. */
  remote: boolean;
}

export interface SocketAddress {
  address: string;
  port: number;
}

/** Counters from quinn. Bytes and datagrams are UDP payloads (headers, encryption, retransmissions included). */
export interface ConnectionStats {
  smoothedRttMs: number;
  minRttMs: number;
  congestionWindow: number;
  congestionEvents: number;
  bytesSent: number;
  bytesReceived: number;
  datagramsSent: number;
  datagramsReceived: number;
  packetsSent: number;
  packetsLost: number;
  bytesLost: number;
  /** UDP payload size in use on the path. */
  mtu: number;
  blackHolesDetected: number;
}

export type { EarlyDataState };

interface ConnectionInfo {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  alpn: string | null;
  serverName: string | null;
  side: 'client' | 'server';
  earlyData: EarlyDataState;
  handshakeComplete: boolean;
}

export interface PathChange {
  previous: SocketAddress;
  current: SocketAddress;
}

export interface QuicConnectionEvents {
  /** A datagram from the peer (read only while someone listens). */
  datagram: [data: Buffer];
  /** The peer's address changed (migration or NAT rebinding); watched only while someone listens. */
  pathChange: [change: PathChange];
  /** The connection ended. */
  close: [info: CloseInfo];
}

/** Bytes of datagrams taken from the backend per call (about 50 of 1200 bytes). */
const DATAGRAM_BATCH_BYTES = 64 * 1024;
/** Batches taken synchronously in a row before the datagram pump lets the event loop run. */
const DATAGRAM_SYNC_BATCHES = 16;

/** Splits what `readDatagrams` returns: (4-byte little-endian length, bytes)*. */
function decodeDatagrams(framed: Uint8Array): Buffer[] {
  const buffer = Buffer.isBuffer(framed) ? framed : Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
  const datagrams: Buffer[] = [];
  for (let offset = 0; offset + 4 <= buffer.length; ) {
    const length = buffer.readUInt32LE(offset);
    offset += 4;
    datagrams.push(buffer.subarray(offset, offset + length));
    offset += length;
  }
  return datagrams;
}

/** How often the remote address is compared while someone listens for `pathChange`: quinn has no event for it. */
const PATH_WATCH_INTERVAL_MS = 100;

type StreamKind = 'bidi' | 'uni';

/**
 * How a client connection stands to the endpoint it runs on.
 * @internal
 */
export interface EndpointLink {
  /** Keeps the process alive while the connection is open (ref/unref). */
  hold: LoopHold;
  /** Moves the endpoint to a new socket; absent when others share it. */
  rebind?: (address: string, port: number) => Promise<void>;
  /** Called once the connection has ended; settles when the endpoint is done with it. */
  ended: () => Promise<void>;
}

/** The backend handle of each connection, for the library's own modules (HTTP/3). */
export const backendHandles = new WeakMap<QuicConnection, BackendConnection>();

export class QuicConnection extends EventEmitter<QuicConnectionEvents> {
  readonly #handle: BackendConnection;
  /** The endpoint of a client connection. */
  readonly #link: EndpointLink | undefined;
  readonly #accepts: Record<StreamKind, SharedAccept<BackendStream>> = {
    bidi: new SharedAccept(() => awaitBinding(this.#handle.acceptBi())),
    uni: new SharedAccept(() => awaitBinding(this.#handle.acceptUni())),
  };
  #handshake: Promise<EarlyDataState> | undefined;
  #isClosed = false;
  #datagramPump = false;
  readonly #datagramWaiters = new Set<(data: Buffer | null) => void>();
  #pathWatch: NodeJS.Timeout | undefined;
  #lastRemote: SocketAddress;
  /** The backend this connection runs on. */
  readonly backend: BackendName;
  /** Settles (never rejects) when the connection ends, however it ends. */
  readonly closed: Promise<CloseInfo>;

  /** @internal */
  constructor(handle: BackendConnection, backend: BackendName, link?: EndpointLink) {
    super();
    this.#handle = handle;
    backendHandles.set(this, handle);
    this.#link = link;
    this.backend = backend;
    this.#lastRemote = this.remoteAddress;
    this.closed = handle.closed().then(async (json) => {
      const info = JSON.parse(json) as CloseInfo;
      this.#isClosed = true;
      this.#stopPathWatch();
      for (const waiter of this.#datagramWaiters) waiter(null);
      await link?.ended();
      link?.hold.release();
      this.emit('close', info);
      return info;
    });
    (this as EventEmitter).on('newListener', (event: string) => {
      if (event === 'datagram') queueMicrotask(() => this.#pumpDatagrams());
      if (event === 'pathChange') this.#startPathWatch();
    });
  }

  #info(): ConnectionInfo {
    return JSON.parse(this.#handle.info()) as ConnectionInfo;
  }

  get localAddress(): SocketAddress {
    const info = this.#info();
    return { address: info.localAddress, port: info.localPort };
  }

  /** The peer's current address (it changes when the peer migrates). */
  get remoteAddress(): SocketAddress {
    const info = this.#info();
    return { address: info.remoteAddress, port: info.remotePort };
  }

  /** The negotiated ALPN protocol. */
  get alpn(): string | undefined {
    return this.#info().alpn ?? undefined;
  }

  /** The server name the client asked for (SNI). */
  get servername(): string | undefined {
    return this.#info().serverName ?? undefined;
  }

  get side(): 'client' | 'server' {
    return this.#info().side;
  }

  /** What became of 0-RTT so far: `notAttempted`, `pending` (handshake not complete), `accepted` or `rejected`. */
  get earlyData(): EarlyDataState {
    return this.#info().earlyData;
  }

  /**
   * Settles when the TLS handshake has completed, with what became of 0-RTT;
   * rejects if the connection ended first. Connections made without
   * `earlyData` are complete when they are handed out.
   */
  get handshakeComplete(): Promise<EarlyDataState> {
    this.#handshake ??= awaitBinding(this.#handle.handshakeComplete());
    return this.#handshake;
  }

  /** The peer's certificate chain, leaf first (empty for a client that sent none). */
  get peerCertificates(): X509Certificate[] {
    const pems = JSON.parse(this.#handle.peerCertificates()) as string[];
    return pems.map((pem) => new X509Certificate(pem));
  }

  /** Live counters from quinn. */
  get stats(): ConnectionStats {
    return JSON.parse(this.#handle.stats()) as ConnectionStats;
  }

  /** The largest datagram that can be sent now; undefined when the peer does not accept datagrams. */
  get maxDatagramSize(): number | undefined {
    return this.#handle.maxDatagramSize() ?? undefined;
  }

  async #open(kind: StreamKind, options: AbortOptions | undefined): Promise<QuicStream> {
    const signal = signalOf(options);
    if (signal?.aborted) throw abortError(signal);
    const init = { readable: kind === 'bidi', writable: true, signal };
    // Streams open at once unless the peer's stream limit is reached: no
    // asynchronous call for the common case.
    const ready = callBinding(() => (kind === 'bidi' ? this.#handle.tryOpenBi() : this.#handle.tryOpenUni()));
    if (ready) return new QuicStream(ready, init);
    const handle = await raceAbort(
      awaitBinding(kind === 'bidi' ? this.#handle.openBi() : this.#handle.openUni()),
      signal,
      // Opened after the caller gave up: tell the peer it is abandoned.
      (late) => {
        try {
          late.reset(0);
          if (kind === 'bidi') late.stop(0);
        } catch {
          // the connection is gone
        }
      },
    );
    return new QuicStream(handle, init);
  }

  async #accept(kind: StreamKind, options: AbortOptions | undefined): Promise<QuicStream> {
    const signal = signalOf(options);
    const init = { readable: true, writable: kind === 'bidi', signal };
    // A stream that has already arrived is taken synchronously, unless an
    // earlier caller is waiting: it comes first.
    if (!this.#accepts[kind].waiting && !signal?.aborted) {
      const ready = callBinding(() => (kind === 'bidi' ? this.#handle.tryAcceptBi() : this.#handle.tryAcceptUni()));
      if (ready) return new QuicStream(ready, init);
    }
    return new QuicStream(await this.#accepts[kind].next(signal), init);
  }

  /** Opens a bidirectional stream (waits while the peer's stream limit is reached). */
  openStream(options?: AbortOptions): Promise<QuicStream> {
    return this.#open('bidi', options);
  }

  /** Opens a unidirectional stream: writable only. */
  openUniStream(options?: AbortOptions): Promise<QuicStream> {
    return this.#open('uni', options);
  }

  /** The next bidirectional stream the peer opens; rejects once the connection is closed. */
  acceptStream(options?: AbortOptions): Promise<QuicStream> {
    return this.#accept('bidi', options);
  }

  /** The next unidirectional stream the peer opens: readable only. */
  acceptUniStream(options?: AbortOptions): Promise<QuicStream> {
    return this.#accept('uni', options);
  }

  async *#incoming(kind: StreamKind, options: AbortOptions | undefined): AsyncGenerator<QuicStream> {
    for (;;) {
      let stream: QuicStream;
      try {
        stream = await this.#accept(kind, options);
      } catch (error) {
        // However the connection ended, its streams have ended with it;
        // `closed` says how.
        if (error instanceof QuicConnectionError || error instanceof QuicTlsError) return;
        throw error;
      }
      yield stream;
    }
  }

  /** The peer's bidirectional streams until the connection closes. */
  streams(options?: AbortOptions): AsyncGenerator<QuicStream> {
    signalOf(options);
    return this.#incoming('bidi', options);
  }

  /** The peer's unidirectional streams until the connection closes. */
  uniStreams(options?: AbortOptions): AsyncGenerator<QuicStream> {
    signalOf(options);
    return this.#incoming('uni', options);
  }

  /**
   * Sends an unreliable datagram (RFC 9221). Throws ERR_QUIC_DATAGRAM_UNSUPPORTED
   * when the peer does not accept datagrams, ERR_QUIC_DATAGRAM_TOO_LARGE beyond
   * `maxDatagramSize`. When the send buffer is full the oldest datagrams are dropped.
   */
  sendDatagram(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(bytes instanceof Uint8Array)) throw invalidArg(`data must be a Uint8Array or a string, got ${describeValue(data)}`);
    callBinding(() => this.#handle.sendDatagram(bytes));
  }

  #pumpDatagrams(): void {
    if (this.#datagramPump || this.#isClosed) return;
    this.#datagramPump = true;
    void (async () => {
      try {
        let inARow = 0;
        while (!this.#isClosed && (this.listenerCount('datagram') > 0 || this.#datagramWaiters.size > 0)) {
          // Whatever has arrived comes in one call; only an empty queue costs
          // an asynchronous one. A steady stream of datagrams must not starve
          // the event loop, hence the occasional turn.
          let framed = inARow < DATAGRAM_SYNC_BATCHES ? this.#handle.tryReadDatagrams(DATAGRAM_BATCH_BYTES) : undefined;
          if (framed === undefined || framed.length === 0) {
            inARow = 0;
            framed = await this.#handle.readDatagrams(DATAGRAM_BATCH_BYTES);
          } else {
            inARow += 1;
          }
          for (const data of decodeDatagrams(framed)) {
            for (const waiter of this.#datagramWaiters) waiter(data);
            this.emit('datagram', data);
          }
        }
      } catch {
        // The connection ended; `closed` says how.
      } finally {
        this.#datagramPump = false;
      }
    })();
  }

  /** The peer's datagrams, until the connection closes (or `signal` aborts). */
  async *datagrams(options?: AbortOptions): AsyncGenerator<Buffer> {
    const signal = signalOf(options);
    const queue: (Buffer | null)[] = [];
    let wake: (() => void) | undefined;
    const waiter = (data: Buffer | null) => {
      queue.push(data);
      wake?.();
    };
    const onAbort = () => waiter(null);
    this.#datagramWaiters.add(waiter);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (this.#isClosed || signal?.aborted) queue.push(null);
    this.#pumpDatagrams();
    try {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const next = queue.shift();
        if (next === undefined) continue;
        if (next === null) return;
        yield next;
      }
    } finally {
      this.#datagramWaiters.delete(waiter);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #startPathWatch(): void {
    if (this.#pathWatch || this.#isClosed) return;
    this.#lastRemote = this.remoteAddress;
    this.#pathWatch = setInterval(() => {
      if (this.listenerCount('pathChange') === 0) return this.#stopPathWatch();
      const current = this.remoteAddress;
      const previous = this.#lastRemote;
      if (current.address !== previous.address || current.port !== previous.port) {
        this.#lastRemote = current;
        this.emit('pathChange', { previous, current });
      }
    }, PATH_WATCH_INTERVAL_MS);
    this.#pathWatch.unref();
  }

  #stopPathWatch(): void {
    clearInterval(this.#pathWatch);
    this.#pathWatch = undefined;
  }

  /**
   * Moves this client connection to a new local socket (default: a new port
   * on the same address): connection migration. Only for a connection with
   * an endpoint of its own (`connect({ reuseEndpoint: false })`); a
   * `QuicEndpoint`'s connections move together with `endpoint.rebind()`.
   */
  async rebind(options: { address?: string; port?: number } = {}): Promise<SocketAddress> {
    checkObject(options, 'options');
    const address = checkIp(options.address ?? this.localAddress.address, 'address');
    const port = checkPort(options.port ?? 0, 'port', 0);
    if (!this.#link) throw invalidState('a server-side connection follows its server and cannot rebind');
    if (!this.#link.rebind) {
      throw invalidState(
        'this connection shares its endpoint with others: connect with reuseEndpoint: false for one that can rebind, or rebind the QuicEndpoint',
      );
    }
    if (this.#isClosed) throw invalidState('the connection is closed');
    await this.#link.rebind(address, port);
    return this.localAddress;
  }

  /**
   * Lets the process exit while this (client) connection is all that is
   * open, as `net.Socket.unref()`. Server-side connections follow their server.
   */
  unref(): this {
    this.#link?.hold.unref();
    return this;
  }

  /** Undoes `unref()`. */
  ref(): this {
    this.#link?.hold.ref();
    return this;
  }

  /** Starts a TLS key update (new 1-RTT keys); the peer follows. */
  updateKeys(): void {
    callBinding(() => this.#handle.forceKeyUpdate());
  }

  /**
   * Closes the connection with an application error code (default 0) and
   * reason; the peer sees both. Resolves with how the connection ended.
   */
  close(code = 0, reason = ''): Promise<CloseInfo> {
    checkCode(code);
    checkReason(reason);
    callBinding(() => this.#handle.close(code, reason));
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
