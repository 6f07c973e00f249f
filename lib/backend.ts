/**
 * The one interface both bindings satisfy. test/types/bindings.ts checks
 * the declarations each build generates (napi-rs's napi/binding.d.ts,
 * wasm-bindgen's wasm/pkg/quicbridge_wasm.d.ts) against it and against
 * each backend's loader, member by member, in `npm run lint`. Structured
 * values cross as JSON strings made and checked by the Rust core, errors
 * as the core's JSON envelope (see errors.ts).
 */

import type { DatagramTransport } from './datagram-transport';

export type BackendName = 'native' | 'wasm';

export interface BackendStream {
  readonly id: number;
  /** Whether the peer opened this stream in 0-RTT data. */
  readonly early: boolean;
  write(data: Uint8Array): Promise<void>;
  /**
   * Buffers what fits of `data` now, without waiting; returns how many bytes
   * it took (the rest goes through `write`). Synchronous fast paths like this
   * one spare a promise and its settling per call.
   */
  tryWrite(data: Uint8Array): number;
  finish(): void;
  reset(code: number): void;
  /** Up to `max` bytes once any are available; `null` at the end. */
  read(max: number): Promise<Uint8Array | null>;
  /** Up to `max` bytes already received, `null` at the end, `undefined` when nothing has arrived yet. */
  tryRead(max: number): Uint8Array | null | undefined;
  stop(code: number): void;
}

export type EarlyDataState = 'notAttempted' | 'pending' | 'accepted' | 'rejected';

export interface BackendConnection {
  openBi(): Promise<BackendStream>;
  acceptBi(): Promise<BackendStream>;
  openUni(): Promise<BackendStream>;
  acceptUni(): Promise<BackendStream>;
  /** The `open`/`accept` calls when they can complete now; null/undefined when they would wait. */
  tryOpenBi(): BackendStream | null | undefined;
  tryAcceptBi(): BackendStream | null | undefined;
  tryOpenUni(): BackendStream | null | undefined;
  tryAcceptUni(): BackendStream | null | undefined;
  sendDatagram(data: Uint8Array): void;
  /**
   * Waits for a datagram; resolves with it and every other one already
   * received, up to about `maxBytes`, framed as (4-byte little-endian
   * length, bytes)* — see `decodeDatagrams`.
   */
  readDatagrams(maxBytes: number): Promise<Uint8Array>;
  /** The datagrams already received, framed as by `readDatagrams`; empty when there are none. */
  tryReadDatagrams(maxBytes: number): Uint8Array;
  /** null/undefined when the peer does not accept datagrams. */
  maxDatagramSize(): number | null | undefined;
  close(code: number, reason: string): void;
  /** JSON of the core's CloseInfo. */
  closed(): Promise<string>;
  handshakeComplete(): Promise<EarlyDataState>;
  /** JSON of the core's ConnectionInfo. */
  info(): string;
  /** JSON of the core's Stats. */
  stats(): string;
  /** JSON array of PEM certificates. */
  peerCertificates(): string;
  forceKeyUpdate(): void;
  /** Starts HTTP/3 on the connection, as its server or its client. */
  http3(server: boolean): Promise<BackendHttp3Session>;
}

export interface BackendHttp3Session {
  /** Sends a request head (JSON of the core's RequestHead). */
  request(head: string): Promise<BackendHttp3Stream>;
  /** The next request; null once the client is done. */
  accept(): Promise<BackendHttp3Stream | null>;
}

export interface BackendHttp3Stream {
  /** JSON of the request head (server side). */
  requestHead(): string | null | undefined;
  /** JSON of the response head (client side). */
  responseHead(): Promise<string>;
  respond(head: string): Promise<void>;
  write(data: Uint8Array): Promise<void>;
  /** `trailers`: JSON of header pairs, or null. */
  finish(trailers: string | null): Promise<void>;
  read(max: number): Promise<Uint8Array | null>;
  /** JSON of the trailers, or null. */
  trailers(): Promise<string | null>;
  reset(code: number): void;
  stop(code: number): void;
}

export interface BackendEndpoint {
  /** JSON `{ address, port }`. */
  localAddress(): string;
  connect(options: string): Promise<BackendConnection>;
  /** Starts accepting connections: JSON of the core's ServerOptions. */
  listen(options: string): void;
  accept(): Promise<BackendConnection | null>;
  openConnections(): number;
  close(code: number, reason: string): void;
  waitIdle(): Promise<void>;
  /** Gives the socket back now (after close and waitIdle): nothing is sent or received after. */
  release(): void;
}

/**
 * The agentic-flow message format (crates/core/src/message.rs): the core
 * encodes and checks frames; lib/agentic-flow moves them on streams.
 * Failures are ERR_QUIC_BAD_FRAME (bytes from a peer) or
 * ERR_QUIC_INVALID_ARG (what we were asked to send).
 */
export interface BackendMessageCodec {
  /** What a stream carries, from its first two bytes. */
  messageStreamKind(prefix: Uint8Array): 'message' | 'data';
  /** The two bytes a data stream starts with. */
  dataStreamHead(): Uint8Array;
  /** A message frame up to its payload: `header` is JSON `{ id, type, timestamp }`, `metadata` JSON text of an object. */
  encodeMessageHead(header: string, metadata: string | null, payloadLength: number): Uint8Array;
  /** JSON: where the parts of a frame of `totalLength` bytes are, or `{ needs }` (call again with that much of it). */
  decodeMessageHead(prefix: Uint8Array, totalLength: number): string;
  /** A reply frame from the JSON `{ id, error? }`. */
  encodeMessageReply(reply: string): Uint8Array;
  /** JSON `{ id, error? }` of a whole reply frame. */
  decodeMessageReply(frame: Uint8Array): string;
}

/** Receives TLS key log lines (SSLKEYLOGFILE format). */
export type KeyLogCallback = (line: string) => void;

export interface Backend {
  readonly name: BackendName;
  /** Where the binding was loaded from. */
  readonly path: string;
  readonly version: string;
  /** The agentic-flow message format, from the core. */
  readonly messages: BackendMessageCodec;
  /** A self-signed certificate: JSON `{names, now, validDays}` in, JSON `{cert, key}` out. */
  generateCertificate(options: string): string;
  /** Binds a UDP socket and starts an endpoint on it. */
  bind(address: string, port: number, options: string, keylog?: KeyLogCallback): Promise<BoundEndpoint>;
  /**
   * Starts an endpoint on a datagram transport the caller supplies; only
   * backends whose sockets the host owns (wasm) can.
   */
  bindTransport?(transport: DatagramTransport, options: string, keylog?: KeyLogCallback): BoundEndpoint;
}

/** An endpoint together with the socket its backend manages for it. */
export interface BoundEndpoint {
  readonly endpoint: BackendEndpoint;
  /** Moves the endpoint to a new socket; its connections migrate. */
  rebind(address: string, port: number): Promise<void>;
  /** Releases the socket; called once the endpoint is closed and idle. */
  release(): Promise<void>;
}
