/**
 * The part of Bun's `node:quic` that the bun-quic peer uses. Bun 1.4 ports
 * Node 26's JavaScript API (lib/internal/quic) onto its own QUIC stack;
 * @types/node 20 has no `node:quic`, and official Node builds lack the module.
 */

/** The key of a writer's "wait until it drains" method (the stream/iter drainable protocol). */
export const DRAINABLE: unique symbol = Symbol.for('Stream.drainableProtocol');

export interface BunQuicWriter {
  /** False when the stream's buffer is full (nothing was taken) or the writer is closed. */
  writeSync(chunk: Uint8Array): boolean;
  /** Ends the stream once what is buffered has drained. */
  end(): Promise<number>;
  readonly desiredSize: number | null;
  /** A promise that settles when the buffer has room again, or null if it has room now (or is closed). */
  [DRAINABLE](): Promise<unknown> | null;
}

/** Iterating yields batches of chunks. */
export interface BunQuicStream extends AsyncIterable<Uint8Array[]> {
  readonly writer: BunQuicWriter;
  destroy(error?: unknown): void;
}

export interface BunHandshakeInfo {
  earlyDataAttempted: boolean;
  earlyDataAccepted: boolean;
}

export interface BunQuicSession {
  /** Settles when the handshake completes (rejects if the certificate does not verify). */
  readonly opened: Promise<BunHandshakeInfo>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
  createBidirectionalStream(): Promise<BunQuicStream>;
  /** Resolves to the datagram's id, 0n if it was not sent (too large, no datagram support). */
  sendDatagram(datagram: Uint8Array): Promise<bigint>;
  /** The largest datagram payload the peer accepts on this path; 0 before the handshake. */
  readonly maxDatagramSize: number;
  onstream: ((stream: BunQuicStream) => void) | undefined;
  ondatagram: ((datagram: Uint8Array) => void) | undefined;
  onsessionticket: ((ticket: Uint8Array) => void) | undefined;
  onerror: ((error: unknown) => void) | undefined;
}

export interface BunQuicEndpoint {
  readonly address: { port: number } | undefined;
  readonly closed: Promise<void>;
  destroy(error?: unknown): void;
}

export interface BunEndpointOptions {
  address: string;
  /** 0 is no limit; Bun's default is 100 connections from one address. */
  maxConnectionsPerHost?: number;
  maxConnectionsTotal?: number;
  /** New sessions per second (and burst) allowed from one address. */
  sessionCreationRate?: number;
  sessionCreationBurst?: number;
}

export interface BunTransportParams {
  maxDatagramFrameSize?: number;
}

export interface BunListenOptions {
  endpoint: BunEndpointOptions;
  alpn: string[];
  sni: Record<string, { keys: unknown[]; certs: Uint8Array[] }>;
  transportParams?: BunTransportParams;
}

export interface BunConnectOptions {
  alpn: string;
  servername: string;
  ca: Uint8Array[];
  /** 'strict': the handshake fails unless the server's certificate verifies. */
  verifyPeer: 'strict' | 'auto' | 'manual';
  sessionTicket?: Uint8Array;
  transportParams?: BunTransportParams;
}

export interface BunQuicModule {
  listen(onsession: (session: BunQuicSession) => void, options: BunListenOptions): Promise<BunQuicEndpoint>;
  connect(address: string, options: BunConnectOptions): Promise<BunQuicSession>;
}

/** Bun's `node:quic`; throws where there is none (Node, Deno). */
export async function loadBunQuic(): Promise<BunQuicModule> {
  // A variable, so that TypeScript does not look for the module's types.
  const specifier = 'node:quic';
  return (await import(specifier)) as BunQuicModule;
}
