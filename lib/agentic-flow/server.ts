/**
 * agentic-flow's `QuicServer`: binds a real UDP socket, accepts
 * connections speaking ALPN `agentic-flow/1` (messages and data streams,
 * as events) or `h3` (HTTP/3 requests, as events), and counts them.
 */
import dns from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import net from 'node:net';

import type { QuicConnection as Connection, SocketAddress } from '../connection';
import { listen, type QuicServer as Server } from '../server';
import { invalidArg, invalidState } from '../errors';
import { serveHttp3, type Http3Request, type Http3ServerResponse } from '../http3';
import { loadBackend } from '../loader';
import { describeValue } from '../options';
import { checkEnabled, resolveQuicConfig, serverTls, transportOf, type QuicConfig, type ResolvedQuicConfig } from './config';
import type { QuicConnection } from './client';
import type { QuicMessage } from './message';
import { addressKey, AGENTIC_FLOW_ALPN, checkSessionOpen, deliverToListeners, MessageSession, TrackedConnection, type DataStream, type QuicStream } from './session';
import { ConnectionBook, type QuicStats } from './stats';

export interface QuicServerEvents {
  /** A client connected (ALPN `agentic-flow/1` or `h3`). */
  connection: [connection: QuicConnection];
  /**
   * A client's message. The client's `sendMessage` settles once every
   * listener has returned and the promises they returned have settled; a
   * listener that throws or rejects rejects it (with no listener, messages
   * are rejected).
   */
  message: [message: QuicMessage, connectionId: string];
  /** A data stream a client opened (with no listener, streams are refused). */
  stream: [stream: QuicStream, connectionId: string];
  /** An HTTP/3 request (with no listener, requests get 501). */
  request: [request: Http3Request, response: Http3ServerResponse];
  /** A connection ended. */
  disconnect: [connectionId: string];
}

class ServerConnection implements QuicConnection {
  readonly tracked: TrackedConnection;

  constructor(tracked: TrackedConnection) {
    this.tracked = tracked;
  }

  get id(): string {
    return this.tracked.id;
  }

  /** The client's address now (it follows a migrating client). */
  get remoteAddr(): string {
    if (!this.tracked.isOpen) return this.tracked.id;
    const { address, port } = this.tracked.connection.remoteAddress;
    return addressKey(address, port);
  }

  get streamCount(): number {
    return this.tracked.activeStreams;
  }

  get createdAt(): Date {
    return this.tracked.createdAt;
  }

  get lastActivity(): Date {
    return this.tracked.lastActivity;
  }

  get quic(): Connection {
    return this.tracked.connection;
  }
}

export class QuicServer extends EventEmitter<QuicServerEvents> {
  readonly #config: ResolvedQuicConfig;
  readonly #connections = new Map<string, ServerConnection>();
  readonly #book = new ConnectionBook();
  #tls: ReturnType<typeof serverTls> | undefined;
  #server: Server | undefined;
  #listening: Promise<void> | undefined;

  /** Checks the configuration (fields over environment over defaults); files are read by `initialize()`. */
  constructor(config: QuicConfig = {}) {
    super();
    this.#config = resolveQuicConfig(config, 'server');
  }

  get config(): ResolvedQuicConfig {
    return this.#config;
  }

  /** Loads the backend and the certificate (or generates one, if configured to); again is a no-op. */
  async initialize(): Promise<void> {
    if (this.#tls) return;
    checkEnabled(this.#config);
    loadBackend(this.#config.backend);
    this.#tls = serverTls(this.#config);
    await Promise.resolve();
  }

  /** The certificate the server presents (PEM): for clients to trust when it was generated. */
  get certificatePem(): string {
    if (!this.#tls) throw invalidState('the QUIC server is not initialized: call initialize() first');
    return this.#tls.cert;
  }

  /** Where the server is bound (the real port when 0 was configured). */
  get address(): SocketAddress {
    if (!this.#server) throw invalidState('the QUIC server is not listening');
    return this.#server.address;
  }

  /** Binds the UDP socket and starts accepting; again while listening is a no-op. */
  listen(): Promise<void> {
    if (!this.#tls) return Promise.reject(invalidState('the QUIC server is not initialized: call initialize() first'));
    this.#listening ??= this.#listen(this.#tls).catch((error: unknown) => {
      this.#listening = undefined;
      throw error;
    });
    return this.#listening;
  }

  async #listen(tls: ReturnType<typeof serverTls>): Promise<void> {
    const host = this.#config.host;
    const address = net.isIP(host) ? host : (await dns.lookup(host)).address;
    const server = await listen({
      address,
      port: this.#config.port,
      alpn: [AGENTIC_FLOW_ALPN, 'h3'],
      ...tls,
      transport: transportOf(this.#config),
      resumption: true,
      earlyData: this.#config.enableEarlyData,
      maxConnections: this.#config.maxConnections,
      ...(this.#config.backend ? { backend: this.#config.backend } : {}),
    });
    this.#server = server;
    void (async () => {
      for await (const connection of server) this.#accept(connection);
    })();
  }

  #accept(connection: Connection): void {
    const { address, port } = connection.remoteAddress;
    const id = addressKey(address, port);
    let tracked: TrackedConnection;
    if (connection.alpn === AGENTIC_FLOW_ALPN) {
      const session = new MessageSession(connection, id, {
        codec: loadBackend(connection.backend).messages,
        maxMessageSize: this.#config.maxMessageSize,
        streamTimeoutMs: this.#config.streamTimeout,
        onMessage: (message) => deliverToListeners(this, message, id, 'this server'),
        onStream: (stream: DataStream) => this.emit('stream', stream, id),
      });
      tracked = session;
    } else {
      tracked = new TrackedConnection(connection, id);
      void serveHttp3(connection, async (request, response) => {
        const done = tracked.countStream();
        tracked.touch();
        response.once('close', done);
        if (this.listenerCount('request') > 0) {
          this.emit('request', request, response);
          return;
        }
        await response.respond(501, { 'content-type': 'text/plain' });
        response.end('no HTTP/3 request handler on this server\n');
      }).catch(() => connection.close(0x101, 'HTTP/3 setup failed'));
    }
    const view = new ServerConnection(tracked);
    this.#connections.set(id, view);
    this.#book.add(tracked);
    void tracked.ended.then(() => {
      if (this.#connections.get(id) === view) this.#connections.delete(id);
      this.emit('disconnect', id);
    });
    this.emit('connection', view);
  }

  #session(connectionId: string): MessageSession {
    if (typeof connectionId !== 'string') throw invalidArg(`connectionId must be a string, got ${describeValue(connectionId)}`);
    const tracked = this.#connections.get(connectionId)?.tracked;
    checkSessionOpen(tracked, connectionId);
    if (!(tracked instanceof MessageSession)) throw invalidState(`connection ${connectionId} speaks HTTP/3, not agentic-flow messages`);
    return tracked;
  }

  /** Pushes a message to a client; settles when the client has acknowledged it (see `WasmQuicClient.recvMessage`). */
  sendMessage(connectionId: string, message: QuicMessage): Promise<void> {
    return this.#session(connectionId).sendMessage(message);
  }

  /** Opens a data stream to a client. */
  createStream(connectionId: string): Promise<QuicStream> {
    return this.#session(connectionId).openDataStream();
  }

  /** The open connections. */
  get connections(): QuicConnection[] {
    return [...this.#connections.values()];
  }

  /** Closes one client's connection; an unknown id is a no-op. */
  async closeConnection(connectionId: string): Promise<void> {
    const view = this.#connections.get(connectionId);
    if (!view) return;
    this.#connections.delete(connectionId);
    await view.tracked.close();
  }

  /** Closes every connection and releases the socket; a server not listening is left as it is. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.#listening = undefined;
    await server.close(0, 'server stopping');
  }

  /** Counts over every connection this server has accepted. */
  getStats(): QuicStats {
    return this.#book.quicStats();
  }
}
