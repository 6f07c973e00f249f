import type { JsPeerName } from '../config';

/** One bidirectional stream, from either side, as the workloads use it. */
export interface Pipe extends AsyncIterable<Uint8Array> {
  /** Resolves when the chunk is accepted (at once unless the stream pushes back). */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the sending side. */
  end(): Promise<void>;
}

export interface ListenOptions {
  /** Ask for 0-RTT / session resumption support where the peer has it. */
  earlyData?: boolean;
  /** Ask for datagram support and a first MTU that fits `datagramSize`-byte datagrams. */
  datagrams?: boolean;
  /** Connections the server must be willing to hold. */
  maxConnections?: number;
}

export interface ConnectOptions {
  earlyData?: boolean;
  datagrams?: boolean;
}

/** A server answering the benchmark protocol on every stream of every connection. */
export interface PeerServer {
  readonly port: number;
  /** Connections it holds now. */
  connections(): number;
  /** Datagrams it has received, over all connections. */
  datagramsReceived(): number;
  close(): Promise<void>;
}

/**
 * Datagrams from client to server. The server reports how many it has
 * received from this connection (an 8-byte big-endian count, in a datagram
 * back, every `DATAGRAM_ACK_EVERY` datagrams), so that a sender can keep a
 * bounded number in flight instead of overrunning its own send queue.
 */
export interface DatagramChannel {
  /** The largest datagram that can be sent now, if known. */
  maxSize(): number | undefined;
  /** Queues one datagram; never waits (a full queue drops its oldest, as UDP would). */
  send(data: Uint8Array): void;
  /** The highest count the server has reported. */
  acked(): number;
  /** Resolves true at the server's next report, false after `ms` without one. */
  nextAck(ms: number): Promise<boolean>;
}

/** The server reports its count after every this many datagrams. */
export const DATAGRAM_ACK_EVERY = 16;

export type EarlyDataState = 'notAttempted' | 'pending' | 'accepted' | 'rejected';

export interface PeerConnection {
  openStream(): Promise<Pipe>;
  /** Datagrams to the server, or why this connection cannot send them. */
  datagrams(): DatagramChannel | string;
  /** How 0-RTT went once the handshake is complete, or why this connection cannot say. */
  earlyData(): Promise<EarlyDataState> | string;
  /** Starts closing; resolves when closed. */
  close(): Promise<void>;
}

export interface Peer {
  readonly name: JsPeerName;
  /** Why the peer cannot do 0-RTT at all (known without trying), if so. */
  readonly noEarlyData?: string;
  /** Why the peer cannot do datagrams at all (known without trying), if so. */
  readonly noDatagrams?: string;
  /** What keeps the peer's datagrams small, if something does: said when they are too small for the workload. */
  readonly datagramSizeLimit?: string;
  listen(options?: ListenOptions): Promise<PeerServer>;
  /** A new connection to a server of this peer on 127.0.0.1:`port`, established. */
  connect(port: number, options?: ConnectOptions): Promise<PeerConnection>;
}
