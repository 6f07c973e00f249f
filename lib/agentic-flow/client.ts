/**
 * agentic-flow's `QuicClient`: connections by `host:port`, data streams,
 * HTTP/3 requests and statistics, all real. A connection offers ALPN
 * `agentic-flow/1` (messages and data streams) and `h3`; the server picks.
 * `sendRequest` runs HTTP/3 on the connection when the server picked `h3`,
 * else on a second connection (ALPN `h3`) to the same server.
 */
import { EventEmitter } from 'node:events';

import type { QuicConnection as Connection } from '../connection';
import { connect } from '../quic-endpoint';
import { invalidArg, invalidState, quicError, QuicError } from '../errors';
import { Http3Client } from '../http3';
import { loadBackend } from '../loader';
import { checkPort, describeValue, type ConnectOptions } from '../options';
import { checkEnabled, clientTls, resolveQuicConfig, transportOf, type QuicConfig, type ResolvedQuicConfig } from './config';
import { withDeadline } from './io';
import type { QuicMessage } from './message';
import { addressKey, AGENTIC_FLOW_ALPN, checkSessionOpen, deliverToListeners, MessageSession, TrackedConnection, type DataStream, type QuicStream } from './session';
import { ConnectionBook, type QuicStats } from './stats';

/** agentic-flow's connection record, live. */
export interface QuicConnection {
  /** `host:port`, as passed to `connect()`: what the other methods take. */
  readonly id: string;
  /** `host:port` of the server. */
  readonly remoteAddr: string;
  /** Streams open now on this connection (and on its HTTP/3 companion, if any). */
  readonly streamCount: number;
  readonly createdAt: Date;
  /** The last time the connection was used. */
  readonly lastActivity: Date;
  /** The quicbridge connection underneath (stats, 0-RTT state, `rebind()` for migration…). */
  readonly quic: Connection;
}

/** One server this client is connected to. */
class Entry implements QuicConnection {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly primary: TrackedConnection;
  http3?: Promise<{ tracked: TrackedConnection; client: Http3Client }>;
  #http3Tracked?: TrackedConnection;

  constructor(id: string, host: string, port: number, primary: TrackedConnection) {
    this.id = id;
    this.host = host;
    this.port = port;
    this.primary = primary;
  }

  get remoteAddr(): string {
    return this.id;
  }

  get streamCount(): number {
    return this.primary.activeStreams + (this.#http3Tracked?.activeStreams ?? 0);
  }

  get createdAt(): Date {
    return this.primary.createdAt;
  }

  get lastActivity(): Date {
    const companion = this.#http3Tracked?.lastActivity;
    return companion && companion > this.primary.lastActivity ? companion : this.primary.lastActivity;
  }

  get useSequence(): number {
    return Math.max(this.primary.useSequence, this.#http3Tracked?.useSequence ?? 0);
  }

  get quic(): Connection {
    return this.primary.connection;
  }

  setHttp3(tracked: TrackedConnection): void {
    this.#http3Tracked = tracked;
  }

  async close(): Promise<void> {
    const companion = this.http3?.then(({ tracked }) => (tracked === this.primary ? undefined : tracked.close()), () => undefined);
    await Promise.all([this.primary.close(), companion]);
  }
}

export interface QuicClientEvents {
  /** A message the server pushed on `connectionId`; acknowledged as for `QuicServer`'s `'message'` (with no listener, rejected). */
  message: [message: QuicMessage, connectionId: string];
  /** A data stream the server opened (with no listener, such streams are refused). */
  stream: [stream: QuicStream, connectionId: string];
}

/** agentic-flow's HTTP/3 response. */
export interface QuicResponse {
  status: number;
  /** Header fields; repeated ones joined with `, `. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export class QuicClient extends EventEmitter<QuicClientEvents> {
  readonly #config: ResolvedQuicConfig;
  readonly #entries = new Map<string, Entry>();
  readonly #connecting = new Map<string, Promise<Entry>>();
  readonly #book = new ConnectionBook();
  /** The ALPN each server (by connection id) last negotiated: what a 0-RTT resumption runs under. */
  readonly #protocols = new Map<string, string>();
  #tls: ReturnType<typeof clientTls> | undefined;

  /** Checks the configuration (fields over environment over defaults); files are read by `initialize()`. */
  constructor(config: QuicConfig = {}) {
    super();
    this.#config = resolveQuicConfig(config, 'client');
  }

  /** The configuration in effect. */
  get config(): ResolvedQuicConfig {
    return this.#config;
  }

  /** Loads the backend and reads the CA and certificate files; again is a no-op. */
  async initialize(): Promise<void> {
    if (this.#tls) return;
    checkEnabled(this.#config);
    loadBackend(this.#config.backend);
    this.#tls = clientTls(this.#config);
    await Promise.resolve();
  }

  #checkInitialized(): ReturnType<typeof clientTls> {
    if (!this.#tls) throw invalidState('the QUIC client is not initialized: call initialize() first');
    return this.#tls;
  }

  /** @internal Connects with these ALPN protocols, within connectionTimeout. */
  async dial(host: string, port: number, alpn: string[]): Promise<Connection> {
    const tls = this.#checkInitialized();
    const ms = this.#config.connectionTimeout;
    const signal = ms > 0 ? AbortSignal.timeout(ms) : undefined;
    const options: ConnectOptions = {
      host,
      port,
      alpn,
      ...tls,
      transport: transportOf(this.#config),
      resumption: true,
      earlyData: this.#config.enableEarlyData,
      // One connection per server, each able to migrate by `quic.rebind()`:
      // an endpoint of its own.
      reuseEndpoint: false,
      ...(this.#config.backend ? { backend: this.#config.backend } : {}),
      ...(signal ? { signal } : {}),
    };
    try {
      return await connect(options);
    } catch (error) {
      if (error instanceof QuicError && error.code === 'ABORT_ERR' && signal?.aborted) {
        throw quicError('ERR_QUIC_TIMEOUT', `connecting to ${addressKey(host, port)} took longer than connectionTimeout (${ms} ms)`);
      }
      throw error;
    }
  }

  /**
   * Connects to `host:port` (default: `serverHost:serverPort`), or returns
   * the open connection there. Beyond `maxConnections` open ones:
   * ERR_QUIC_LIMIT.
   */
  async connect(host?: string, port?: number): Promise<QuicConnection> {
    this.#checkInitialized();
    const targetHost = host ?? this.#config.serverHost;
    if (typeof targetHost !== 'string' || targetHost.length === 0) throw invalidArg(`host must be a host name or IP address, got ${describeValue(targetHost)}`);
    const targetPort = checkPort(port ?? this.#config.serverPort, 'port', 1);
    const id = addressKey(targetHost.replace(/^\[|\]$/g, ''), targetPort);
    const existing = this.#entries.get(id);
    if (existing?.primary.isOpen) {
      existing.primary.touch();
      return existing;
    }
    const pending = this.#connecting.get(id);
    if (pending) return pending;
    const open = [...this.#entries.values()].filter((e) => e.primary.isOpen).length + this.#connecting.size;
    if (open >= this.#config.maxConnections) {
      throw quicError('ERR_QUIC_LIMIT', `maxConnections (${this.#config.maxConnections}) connections are open: close one first`);
    }
    const connecting = this.#open(id, targetHost.replace(/^\[|\]$/g, ''), targetPort);
    this.#connecting.set(id, connecting);
    try {
      return await connecting;
    } finally {
      this.#connecting.delete(id);
    }
  }

  /**
   * The protocol of a new connection. In 0-RTT the server's choice is not
   * known yet, but early data is only ever sent under the ALPN of the session
   * being resumed (RFC 8446 §4.2.10: a server that picks another one rejects
   * it), which is the one the last connection to this server negotiated.
   * Checked once the handshake completes; unknown otherwise: wait for it.
   */
  async #protocolOf(connection: Connection, id: string): Promise<string | undefined> {
    if (connection.alpn !== undefined) return connection.alpn;
    const resumed = this.#protocols.get(id);
    if (resumed === undefined) {
      await connection.handshakeComplete;
      return connection.alpn;
    }
    connection.handshakeComplete.then(
      () => {
        if (connection.alpn !== resumed) void connection.close(0x101, `the server chose ALPN ${connection.alpn ?? '(none)'}, not the resumed ${resumed}`);
      },
      () => {}, // the connection ended during the handshake: its users see that
    );
    return resumed;
  }

  async #open(id: string, host: string, port: number): Promise<Entry> {
    const connection = await this.dial(host, port, [AGENTIC_FLOW_ALPN, 'h3']);
    const protocol = await this.#protocolOf(connection, id);
    if (protocol !== undefined) this.#protocols.set(id, protocol);
    let tracked: TrackedConnection;
    if (protocol === AGENTIC_FLOW_ALPN) {
      const session = new MessageSession(connection, id, {
        codec: loadBackend(connection.backend).messages,
        maxMessageSize: this.#config.maxMessageSize,
        streamTimeoutMs: this.#config.streamTimeout,
        onMessage: (message) => deliverToListeners(this, message, id, 'this client'),
        onStream: (stream: DataStream) => this.emit('stream', stream, id),
      });
      tracked = session;
    } else {
      tracked = new TrackedConnection(connection, id);
    }
    const entry = new Entry(id, host, port, tracked);
    if (protocol === 'h3') {
      entry.setHttp3(tracked);
      entry.http3 = Http3Client.on(connection, id).then((client) => ({ tracked, client }));
    }
    this.#entries.set(id, entry);
    this.#book.add(tracked);
    void tracked.ended.then(() => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      void entry.close();
    });
    return entry;
  }

  #entry(connectionId: string): Entry {
    if (typeof connectionId !== 'string') throw invalidArg(`connectionId must be a string, got ${describeValue(connectionId)}`);
    const entry = this.#entries.get(connectionId);
    checkSessionOpen(entry?.primary, connectionId);
    return entry;
  }

  /** Opens a data stream on the connection: `send`/`receive`/`close` move real bytes. */
  async createStream(connectionId: string): Promise<QuicStream> {
    const entry = this.#entry(connectionId);
    if (!(entry.primary instanceof MessageSession)) {
      throw invalidState(`the server at ${connectionId} speaks only HTTP/3 (ALPN h3): data streams need an agentic-flow server (ALPN ${AGENTIC_FLOW_ALPN})`);
    }
    return entry.primary.openDataStream();
  }

  /** Sends a message and settles when the server has acknowledged it. */
  async sendMessage(connectionId: string, message: QuicMessage): Promise<void> {
    const entry = this.#entry(connectionId);
    if (!(entry.primary instanceof MessageSession)) {
      throw invalidState(`the server at ${connectionId} speaks only HTTP/3 (ALPN h3): messages need an agentic-flow server (ALPN ${AGENTIC_FLOW_ALPN})`);
    }
    return entry.primary.sendMessage(message);
  }

  #http3(entry: Entry): Promise<{ tracked: TrackedConnection; client: Http3Client }> {
    entry.http3 ??= (async () => {
      const connection = await this.dial(entry.host, entry.port, ['h3']);
      const tracked = new TrackedConnection(connection, entry.id);
      this.#book.add(tracked);
      entry.setHttp3(tracked);
      void tracked.ended.then(() => {
        entry.http3 = undefined; // the next request connects again
      });
      try {
        return { tracked, client: await Http3Client.on(connection, entry.id) };
      } catch (error) {
        await tracked.close(0x101, 'HTTP/3 setup failed');
        throw error;
      }
    })();
    const pending = entry.http3;
    pending.catch(() => {
      if (entry.http3 === pending) entry.http3 = undefined;
    });
    return pending;
  }

  /**
   * An HTTP/3 request on the connection's server: `path` with its query,
   * `headers`, an optional body. Settles with the whole response; within
   * `streamTimeout`.
   */
  async sendRequest(
    connectionId: string,
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Uint8Array,
  ): Promise<QuicResponse> {
    const entry = this.#entry(connectionId);
    if (typeof method !== 'string' || !/^[A-Z]+$/.test(method)) throw invalidArg(`method must be an HTTP method in capitals, got ${describeValue(method)}`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw invalidArg(`path must start with /, got ${describeValue(path)}`);
    if (body !== undefined && !(body instanceof Uint8Array)) throw invalidArg(`body must be a Uint8Array, got ${describeValue(body)}`);
    const { tracked, client } = await this.#http3(entry);
    tracked.touch();
    const done = tracked.countStream();
    const ms = this.#config.streamTimeout;
    const signal = ms > 0 ? AbortSignal.timeout(ms) : undefined;
    try {
      const response = await client.request({ method, path, headers, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
      const bytes = await withDeadline(ms, `the body of ${method} ${path}`, 'streamTimeout', response.bytes(), () => response.body.destroy());
      const fields: Record<string, string> = {};
      for (const [name, value] of response.headers) fields[name] = name in fields ? `${fields[name]}, ${value}` : value;
      return { status: response.status, headers: fields, body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    } catch (error) {
      if (error instanceof QuicError && error.code === 'ABORT_ERR' && signal?.aborted) {
        throw quicError('ERR_QUIC_TIMEOUT', `${method} ${path} did not complete within ${ms} ms (streamTimeout)`);
      }
      throw error;
    } finally {
      tracked.touch();
      done();
    }
  }

  /** Closes the connection (and its HTTP/3 companion); an unknown id is a no-op. */
  async closeConnection(connectionId: string): Promise<void> {
    const entry = this.#entries.get(connectionId);
    if (!entry) return;
    this.#entries.delete(connectionId);
    await entry.close();
  }

  /** Closes every connection; `initialize()` is needed again afterwards. */
  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.#connecting.values()]);
    await Promise.all([...this.#entries.keys()].map((id) => this.closeConnection(id)));
    this.#tls = undefined;
  }

  /** Counts over every connection this client has made. */
  getStats(): QuicStats {
    return this.#book.quicStats();
  }

  /** @internal The open connection with this id, for the pool. */
  connectionFor(connectionId: string): (QuicConnection & { useSequence: number }) | undefined {
    const entry = this.#entries.get(connectionId);
    return entry?.primary.isOpen ? entry : undefined;
  }
}
