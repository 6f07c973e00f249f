import type { BackendConnection, BackendName } from './backend';
import { awaitBinding, callBinding, invalidArg, QuicConnectionError, QuicTlsError } from './errors';
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

interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  alpn: string | null;
  serverName: string | null;
}

export class QuicConnection {
  readonly #handle: BackendConnection;
  readonly #info: ConnectionInfo;
  /** The backend this connection runs on. */
  readonly backend: BackendName;
  /** Settles (never rejects) when the connection ends, however it ends. */
  readonly closed: Promise<CloseInfo>;

  /** @internal */
  constructor(handle: BackendConnection, backend: BackendName, onClosed?: () => Promise<void>) {
    this.#handle = handle;
    this.backend = backend;
    this.#info = JSON.parse(handle.info()) as ConnectionInfo;
    this.closed = handle.closed().then(async (json) => {
      const info = JSON.parse(json) as CloseInfo;
      await onClosed?.();
      return info;
    });
  }

  get remoteAddress(): { address: string; port: number } {
    return { address: this.#info.remoteAddress, port: this.#info.remotePort };
  }

  /** The negotiated ALPN protocol. */
  get alpn(): string | undefined {
    return this.#info.alpn ?? undefined;
  }

  /** The server name the client asked for (SNI). */
  get servername(): string | undefined {
    return this.#info.serverName ?? undefined;
  }

  /** Opens a bidirectional stream. */
  async openStream(): Promise<QuicStream> {
    return new QuicStream(await awaitBinding(this.#handle.openBi()));
  }

  /** The next bidirectional stream the peer opens; rejects once the connection is closed. */
  async acceptStream(): Promise<QuicStream> {
    return new QuicStream(await awaitBinding(this.#handle.acceptBi()));
  }

  /** The peer's bidirectional streams until the connection closes. */
  async *streams(): AsyncGenerator<QuicStream> {
    for (;;) {
      let stream: QuicStream;
      try {
        stream = await this.acceptStream();
      } catch (error) {
        // However the connection ended, its streams have ended with it;
        // `closed` says how.
        if (error instanceof QuicConnectionError || error instanceof QuicTlsError) return;
        throw error;
      }
      yield stream;
    }
  }

  /**
   * Closes the connection with an application error code (default 0) and
   * reason; the peer sees both. Resolves with how the connection ended.
   */
  close(code = 0, reason = ''): Promise<CloseInfo> {
    if (typeof reason !== 'string') throw invalidArg(`reason must be a string, got ${typeof reason}`);
    callBinding(() => this.#handle.close(code, reason));
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
