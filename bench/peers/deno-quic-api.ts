/**
 * The part of Deno's QUIC API (unstable: `deno run --unstable-net`; quinn
 * inside) that the deno-quic peer uses, as lib.deno.unstable.d.ts of Deno
 * 2.9 declares it. The benchmark is type-checked against Node's types only.
 */

export interface DenoNetAddr {
  hostname: string;
  port: number;
}

export interface DenoBidirectionalStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

export interface DenoQuicConn {
  createBidirectionalStream(options?: { waitUntilAvailable?: boolean }): Promise<DenoBidirectionalStream>;
  readonly incomingBidirectionalStreams: ReadableStream<DenoBidirectionalStream>;
  /** Waits while quinn's datagram send buffer is full. */
  sendDatagram(data: Uint8Array): Promise<void>;
  readDatagram(): Promise<Uint8Array>;
  readonly maxDatagramSize: number;
  /** Settles when the TLS handshake is complete (it says nothing about 0-RTT). */
  readonly handshake: Promise<void>;
  readonly closed: Promise<unknown>;
  readonly remoteAddr: DenoNetAddr;
  close(): void;
}

export interface DenoQuicIncoming {
  /** With zeroRtt the connection is returned at once (0.5-RTT), before the handshake completes. */
  accept(options: { zeroRtt: true }): DenoQuicConn;
  accept(): Promise<DenoQuicConn>;
}

export interface DenoQuicListener extends AsyncIterable<DenoQuicIncoming> {
  stop(): void;
}

export interface DenoQuicEndpoint {
  readonly addr: DenoNetAddr;
  listen(options: { alpnProtocols: string[]; key: string; cert: string }): DenoQuicListener;
  close(): void;
}

export interface DenoConnectQuicOptions {
  hostname: string;
  port: number;
  serverName: string;
  alpnProtocols: string[];
  /** Trusted in addition to the built-in roots. */
  caCerts: string[];
  /** The session tickets for resumption live in the endpoint. */
  endpoint?: DenoQuicEndpoint;
  zeroRtt?: boolean;
}

export interface DenoQuicApi {
  QuicEndpoint: new (options?: { hostname?: string; port?: number }) => DenoQuicEndpoint;
  /** With zeroRtt, a connection at once when the endpoint holds a session ticket, else a promise of one. */
  connectQuic(options: DenoConnectQuicOptions): DenoQuicConn | Promise<DenoQuicConn>;
}

/** Deno's QUIC API; throws outside Deno or without --unstable-net. */
export function denoQuic(): DenoQuicApi {
  const api = (globalThis as { Deno?: Partial<DenoQuicApi> }).Deno;
  if (!api) throw new Error('not running in Deno');
  if (typeof api.QuicEndpoint !== 'function' || typeof api.connectQuic !== 'function') {
    throw new Error('Deno.QuicEndpoint / Deno.connectQuic are missing (run with --unstable-net)');
  }
  return api as DenoQuicApi;
}
