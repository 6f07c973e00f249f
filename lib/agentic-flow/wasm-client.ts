/**
 * agentic-flow's `WasmQuicClient` and `defaultConfig()`: messages to and
 * from servers at `host:port` addresses, on real QUIC connections (ALPN
 * `agentic-flow/1`), one per address, on whichever backend loads (the name
 * is agentic-flow's; the native backend serves it just as well).
 */
import net from 'node:net';

import type { Backend, BackendName } from '../backend';
import { connect } from '../quic-endpoint';
import { invalidArg, invalidState, quicError, QuicError } from '../errors';
import { loadBackend } from '../loader';
import { checkObject, describeValue, type ConnectOptions } from '../options';
import { readPemFile } from './config';
import type { QuicMessage } from './message';
import { addressKey, AGENTIC_FLOW_ALPN, frameFor, MessageSession } from './session';
import { ConnectionBook, type PoolStats } from './stats';

/** agentic-flow's connection configuration (its field names), plus quicbridge's TLS and limits. */
export interface ConnectionConfig {
  /** The name the server's certificate must carry when the address is an IP address (a host name is its own). */
  server_name: string;
  /** Milliseconds without traffic before a connection closes (0: never). */
  max_idle_timeout_ms: number;
  /** Streams of each direction the server may open to us at once. */
  max_concurrent_streams: number;
  /** Send messages as 0-RTT data when resuming a session (a server that refuses gets them again after the handshake). */
  enable_0rtt: boolean;
  /** quicbridge: a PEM CA file the server's certificate must chain to (default: the system's CAs). */
  ca_path?: string;
  /** quicbridge: `false` accepts any server certificate (quicbridge's insecureSkipVerify). */
  verify_peer: boolean;
  /** quicbridge: milliseconds a connection attempt may take (0: no limit). */
  connect_timeout_ms: number;
  /** quicbridge: milliseconds a message exchange may take (0: no limit). */
  stream_timeout_ms: number;
  /** quicbridge: the largest message frame sent or accepted, bytes. */
  max_message_size: number;
  /** quicbridge: the backend to run on (default: the loader's choice). */
  backend?: BackendName;
}

/** The defaults, with agentic-flow's values for its own fields. */
export function defaultConfig(): ConnectionConfig {
  return {
    server_name: 'localhost',
    max_idle_timeout_ms: 30_000,
    max_concurrent_streams: 100,
    enable_0rtt: true,
    verify_peer: true,
    connect_timeout_ms: 30_000,
    stream_timeout_ms: 30_000,
    max_message_size: 16 * 1024 * 1024,
  };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function checkConfig(value: unknown): ConnectionConfig {
  const given = (value ?? {}) as Record<string, unknown>;
  checkObject(given, 'config');
  const base = defaultConfig() as unknown as Record<string, unknown>;
  const known = [...Object.keys(base), 'ca_path', 'backend'];
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) throw invalidArg(`config has no field ${key} (fields: ${known.join(', ')})`);
  }
  const config = { ...base, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) } as Record<string, unknown>;
  const int = (field: string, min: number, max: number) => {
    const v = config[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidArg(`config.${field} must be an integer from ${min} to ${max}, got ${describeValue(v)}`);
  };
  const bool = (field: string) => {
    if (typeof config[field] !== 'boolean') throw invalidArg(`config.${field} must be a boolean, got ${describeValue(config[field])}`);
  };
  if (typeof config.server_name !== 'string' || config.server_name.length === 0) throw invalidArg(`config.server_name must be a non-empty string, got ${describeValue(config.server_name)}`);
  int('max_idle_timeout_ms', 0, Number.MAX_SAFE_INTEGER);
  // The core's stream limit (crates/core/src/config.rs MAX_STREAMS).
  int('max_concurrent_streams', 0, 65_536);
  bool('enable_0rtt');
  bool('verify_peer');
  int('connect_timeout_ms', 0, MAX_TIMER_MS);
  int('stream_timeout_ms', 0, MAX_TIMER_MS);
  int('max_message_size', 1024, 1024 * 1024 * 1024);
  if (config.ca_path !== undefined && (typeof config.ca_path !== 'string' || config.ca_path.length === 0)) throw invalidArg(`config.ca_path must be a file path, got ${describeValue(config.ca_path)}`);
  if (config.backend !== undefined && config.backend !== 'native' && config.backend !== 'wasm') throw invalidArg(`config.backend must be 'native' or 'wasm', got ${describeValue(config.backend)}`);
  return config as unknown as ConnectionConfig;
}

/** `host:port`, `[ipv6]:port` or `ipv4:port` into its parts. */
function parseAddress(addr: unknown): { host: string; port: number } {
  if (typeof addr === 'string') {
    const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(addr) ?? /^([^:[\]]+):(\d{1,5})$/.exec(addr);
    const port = Number(match?.[2]);
    if (match && port >= 1 && port <= 65535 && (!addr.startsWith('[') || net.isIPv6(match[1]!))) return { host: match[1]!, port };
  }
  throw invalidArg(`addr must be host:port, ipv4:port or [ipv6]:port, got ${describeValue(addr)}`);
}

export class WasmQuicClient {
  readonly #config: ConnectionConfig;
  readonly #backend: Backend;
  readonly #tls: Pick<ConnectOptions, 'ca' | 'systemRoots' | 'insecureSkipVerify'>;
  readonly #sessions = new Map<string, MessageSession>();
  readonly #connecting = new Map<string, Promise<MessageSession>>();
  readonly #book = new ConnectionBook();
  #closed = false;

  /** Checks `config` (unset fields from `defaultConfig()`), loads the backend and reads `ca_path`: synchronously. */
  constructor(config?: Partial<ConnectionConfig>) {
    this.#config = checkConfig(config);
    this.#backend = loadBackend(this.#config.backend);
    if (!this.#config.verify_peer) this.#tls = { insecureSkipVerify: true };
    else if (this.#config.ca_path !== undefined) this.#tls = { ca: readPemFile(this.#config.ca_path, 'config.ca_path') };
    else this.#tls = { systemRoots: true };
  }

  /** The configuration in effect. */
  get config(): ConnectionConfig {
    return { ...this.#config };
  }

  #session(addr: string): Promise<MessageSession> {
    if (this.#closed) return Promise.reject(invalidState('the client is closed'));
    const { host, port } = parseAddress(addr);
    const key = addressKey(host, port);
    const open = this.#sessions.get(key);
    if (open?.isOpen) return Promise.resolve(open);
    let pending = this.#connecting.get(key);
    if (!pending) {
      pending = this.#connect(key, host, port).finally(() => this.#connecting.delete(key));
      this.#connecting.set(key, pending);
    }
    return pending;
  }

  async #connect(key: string, host: string, port: number): Promise<MessageSession> {
    const ms = this.#config.connect_timeout_ms;
    const signal = ms > 0 ? AbortSignal.timeout(ms) : undefined;
    let connection;
    try {
      connection = await connect({
        host,
        port,
        servername: net.isIP(host) ? this.#config.server_name : host,
        alpn: AGENTIC_FLOW_ALPN,
        ...this.#tls,
        transport: {
          idleTimeoutMs: this.#config.max_idle_timeout_ms,
          maxConcurrentBidiStreams: this.#config.max_concurrent_streams,
          maxConcurrentUniStreams: this.#config.max_concurrent_streams,
        },
        resumption: true,
        earlyData: this.#config.enable_0rtt,
        backend: this.#backend.name,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof QuicError && error.code === 'ABORT_ERR' && signal?.aborted) {
        throw quicError('ERR_QUIC_TIMEOUT', `connecting to ${key} took longer than connect_timeout_ms (${ms} ms)`);
      }
      throw error;
    }
    if (this.#closed) {
      await connection.close(0, 'client closed');
      throw invalidState('the client is closed');
    }
    const session = new MessageSession(connection, key, {
      codec: this.#backend.messages,
      maxMessageSize: this.#config.max_message_size,
      streamTimeoutMs: this.#config.stream_timeout_ms,
    });
    this.#sessions.set(key, session);
    this.#book.add(session);
    void session.ended.then(() => {
      if (this.#sessions.get(key) === session) this.#sessions.delete(key);
    });
    return session;
  }

  /**
   * Sends `message` to the server at `addr` (connecting first if need be)
   * and settles when the server has acknowledged it.
   */
  async sendMessage(addr: string, message: QuicMessage): Promise<void> {
    frameFor(this.#backend.messages, message, this.#config.max_message_size); // a bad message fails before any connection is made
    const session = await this.#session(addr);
    await session.sendMessage(message);
  }

  /**
   * The next message the server at `addr` sent us on our connection to it
   * (connecting first if need be); rejects if that connection ends first.
   */
  async recvMessage(addr: string): Promise<QuicMessage> {
    const session = await this.#session(addr);
    return session.nextMessage();
  }

  /** Counts of this client's connections and streams. */
  poolStats(): Promise<PoolStats> {
    return Promise.resolve(this.#book.poolStats());
  }

  /** Closes every connection; the client cannot be used afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#connecting.values()]);
    await Promise.all([...this.#sessions.values()].map((session) => session.close(0, 'client closed')));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
