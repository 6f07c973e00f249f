/**
 * One QUIC connection as the agentic-flow layer uses it: counters for its
 * streams and activity, its stats kept after it ends, and (for connections
 * that speak ALPN `agentic-flow/1`) the message protocol: messages on
 * streams of their own, each answered by a real reply from the receiver,
 * and raw data streams.
 */
import type { EventEmitter } from 'node:events';

import type { BackendMessageCodec } from '../backend';
import type { CloseInfo, ConnectionStats, QuicConnection } from '../connection';
import { callBinding, invalidArg, invalidState, quicError, QuicError } from '../errors';
import type { QuicStream as Stream } from '../stream';
import { finish, nextChunk, readAtLeast, readToEnd, withDeadline, write } from './io';
import { decodeMessage, encodeMessage, type QuicMessage } from './message';

/** The ALPN protocol of agentic-flow message connections (the core's `message::ALPN`). */
export const AGENTIC_FLOW_ALPN = 'agentic-flow/1';
/** The code streams are stopped or reset with when the protocol refuses them. */
export const REFUSED_STREAM_CODE = 1;
/** A reply is a few bytes of JSON; the core refuses more than 64 KiB of it. */
const MAX_REPLY_BYTES = 64 * 1024 + 6;
/** Messages held for `recvMessage` before the sender's acknowledgement waits for room. */
const INBOX_LIMIT = 1024;

let activitySequence = 0;

/** The error an operation on a connection that ended fails with. */
export function closedError(info: CloseInfo): QuicError {
  const how = `${info.remote ? 'the peer' : 'this side'} closed it (${info.kind}, code ${info.code}${info.reason ? `, "${info.reason}"` : ''})`;
  switch (info.kind) {
    case 'idleTimeout':
      return quicError('ERR_QUIC_TIMEOUT', 'the connection timed out: nothing was heard from the peer within the idle timeout');
    case 'statelessReset':
      return quicError('ERR_QUIC_CONNECTION_RESET', 'the peer reset the connection (stateless reset)', { remote: true });
    case 'transport':
      return quicError('ERR_QUIC_PROTOCOL', `the connection ended with a transport error: ${how}`, { quicCode: info.code, reason: info.reason, remote: info.remote });
    default:
      return quicError('ERR_QUIC_CONNECTION_CLOSED', `the connection is closed: ${how}`, { quicCode: info.code, reason: info.reason, remote: info.remote });
  }
}

/** `address:port` (IPv6 in brackets): how connections are named. */
export function addressKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A connection with its stream counters and last activity; its stats outlive it. */
export class TrackedConnection {
  readonly connection: QuicConnection;
  readonly id: string;
  readonly createdAt = new Date();
  #lastActivity = new Date();
  #sequence = ++activitySequence;
  #activeStreams = 0;
  #totalStreams = 0;
  #finalStats: ConnectionStats | undefined;
  #closeInfo: CloseInfo | undefined;
  /** Settles (never rejects) when the connection has ended. */
  readonly ended: Promise<CloseInfo>;

  constructor(connection: QuicConnection, id: string) {
    this.connection = connection;
    this.id = id;
    this.ended = connection.closed.then((info) => {
      this.#finalStats = this.#readStats();
      this.#closeInfo = info;
      this.#activeStreams = 0;
      this.onEnded(info);
      return info;
    });
  }

  /** Hook for subclasses: the connection ended. */
  protected onEnded(_info: CloseInfo): void {}

  #readStats(): ConnectionStats | undefined {
    try {
      return this.connection.stats;
    } catch {
      return this.#finalStats;
    }
  }

  /** Live stats, or the last ones once the connection has ended. */
  get stats(): ConnectionStats | undefined {
    return this.#closeInfo ? this.#finalStats : this.#readStats();
  }

  get isOpen(): boolean {
    return this.#closeInfo === undefined;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  get lastActivity(): Date {
    return this.#lastActivity;
  }

  /** Orders connections by their last use (a Date's milliseconds tie too often). */
  get useSequence(): number {
    return this.#sequence;
  }

  get activeStreams(): number {
    return this.#activeStreams;
  }

  get totalStreams(): number {
    return this.#totalStreams;
  }

  touch(): void {
    this.#lastActivity = new Date();
    this.#sequence = ++activitySequence;
  }

  /** Counts an exchange that uses a stream (for streams this layer does not hold, e.g. HTTP/3 requests). */
  countStream(): () => void {
    this.#totalStreams++;
    this.#activeStreams++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (this.#closeInfo === undefined) this.#activeStreams--;
    };
  }

  /** Counts `stream` until it closes, and keeps its errors from going unhandled. */
  track(stream: Stream): void {
    const done = this.countStream();
    stream.on('error', () => {}); // reported to whoever reads or writes it
    stream.once('close', done);
  }

  /** Closes the connection (code 0 unless given) and waits until it has ended. */
  async close(code = 0, reason = ''): Promise<CloseInfo> {
    if (this.#closeInfo) return this.#closeInfo;
    this.#finalStats = this.#readStats();
    await this.connection.close(code, reason);
    return this.ended;
  }
}

/** agentic-flow's stream: `send`, `receive`, `close`, moving real bytes on a QUIC data stream. */
export interface QuicStream {
  /** The QUIC stream ID. */
  readonly id: number;
  readonly connectionId: string;
  /** Sends bytes; settles once the backend has taken them (flow control applies). */
  send(data: Uint8Array): Promise<void>;
  /** The next bytes from the peer; an empty array once the peer has finished sending. */
  receive(): Promise<Uint8Array>;
  /** Finishes our sending half (the peer's `receive()` then ends); receiving goes on. */
  close(): Promise<void>;
}

/** A data stream of an agentic-flow connection. */
export class DataStream implements QuicStream {
  readonly #stream: Stream;
  readonly #owner: TrackedConnection;
  readonly #timeoutMs: number;
  readonly connectionId: string;

  constructor(stream: Stream, owner: TrackedConnection, timeoutMs: number) {
    this.#stream = stream;
    this.#owner = owner;
    this.#timeoutMs = timeoutMs;
    this.connectionId = owner.id;
  }

  get id(): number {
    return this.#stream.id;
  }

  /** The quicbridge stream underneath (a Node Duplex). */
  get quicStream(): Stream {
    return this.#stream;
  }

  async send(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw invalidArg('data must be a Uint8Array');
    this.#owner.touch();
    // A send that times out leaves the stream in no known state: it is reset.
    await withDeadline(this.#timeoutMs, 'stream send', 'streamTimeout', write(this.#stream, data), () => this.#stream.destroy());
  }

  async receive(): Promise<Uint8Array> {
    this.#owner.touch();
    const chunk = await withDeadline(this.#timeoutMs, 'stream receive', 'streamTimeout', nextChunk(this.#stream), () => {});
    return chunk ?? new Uint8Array(0);
  }

  async close(): Promise<void> {
    this.#owner.touch();
    await finish(this.#stream);
  }
}

export interface SessionOptions {
  codec: BackendMessageCodec;
  /** The largest message frame (head, metadata and payload) sent or accepted. */
  maxMessageSize: number;
  /** Deadline for each message exchange and each stream operation (0: none). */
  streamTimeoutMs: number;
  /**
   * Where received messages go; the acknowledgement is sent once it has
   * returned (and what it returned has settled); one that throws or rejects
   * rejects the message. Without it, messages wait in an inbox for
   * `nextMessage()` (a full inbox delays the acknowledgement).
   */
  onMessage?: (message: QuicMessage) => void | Promise<void>;
  /** Where data streams the peer opens go; without it, or when it returns false, they are refused. */
  onStream?: (stream: DataStream) => boolean;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A connection speaking ALPN `agentic-flow/1`. */
export class MessageSession extends TrackedConnection {
  readonly #options: SessionOptions;
  readonly #inbox: QuicMessage[] = [];
  readonly #receivers: Waiter<QuicMessage>[] = [];
  readonly #roomWaiters: (() => void)[] = [];

  constructor(connection: QuicConnection, id: string, options: SessionOptions) {
    super(connection, id);
    this.#options = options;
    void this.#acceptStreams();
    void this.#refuseUniStreams();
  }

  protected override onEnded(info: CloseInfo): void {
    const error = closedError(info);
    for (const receiver of this.#receivers.splice(0)) receiver.reject(error);
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  async #acceptStreams(): Promise<void> {
    try {
      for await (const stream of this.connection.streams()) void this.#serve(stream);
    } catch {
      // the connection ended; `ended` says how
    }
  }

  async #refuseUniStreams(): Promise<void> {
    try {
      for await (const stream of this.connection.uniStreams()) {
        stream.on('error', () => {});
        stream.stopSending(REFUSED_STREAM_CODE);
      }
    } catch {
      // the connection ended
    }
  }

  /** Answers a message stream with a rejection and stops reading it. */
  async #reject(stream: Stream, id: string | null, reason: string): Promise<void> {
    try {
      const reply = callBinding(() => this.#options.codec.encodeMessageReply(JSON.stringify({ id, error: reason.slice(0, 4096) })));
      try {
        stream.stopSending(REFUSED_STREAM_CODE); // nothing more of it is wanted
      } catch {
        // it had already ended
      }
      await write(stream, reply);
      await finish(stream);
    } catch {
      stream.destroy();
    }
  }

  async #serve(stream: Stream): Promise<void> {
    this.track(stream);
    this.touch();
    const { codec, maxMessageSize, streamTimeoutMs } = this.#options;
    let first: Buffer;
    let kind: 'message' | 'data';
    try {
      first = await withDeadline(streamTimeoutMs, 'reading a stream kind', 'streamTimeout', readAtLeast(stream, 2), () => {});
      kind = callBinding(() => codec.messageStreamKind(first.subarray(0, 2)));
    } catch (error) {
      return this.#reject(stream, null, (error as Error).message);
    }
    if (kind === 'data') {
      if (first.length > 2) stream.unshift(first.subarray(2));
      const taken = this.#options.onStream?.(new DataStream(stream, this, streamTimeoutMs)) ?? false;
      if (!taken) stream.destroy(); // resets and stops it: nobody here takes data streams
      return;
    }
    let frame: Buffer;
    try {
      // What came with the kind may already be more than the limit: a read
      // takes whatever has arrived.
      if (first.length > maxMessageSize) {
        throw quicError('ERR_QUIC_LIMIT', `message of more than ${first.length} bytes exceeds maxMessageSize (${maxMessageSize})`);
      }
      const rest = withDeadline(
        streamTimeoutMs,
        'receiving a message',
        'streamTimeout',
        readToEnd(stream, maxMessageSize - first.length, (size) =>
          quicError('ERR_QUIC_LIMIT', `message of more than ${size + first.length} bytes exceeds maxMessageSize (${maxMessageSize})`),
        ),
        () => {},
      );
      frame = Buffer.concat([first, await rest]);
    } catch (error) {
      return this.#reject(stream, null, (error as Error).message);
    }
    let message: QuicMessage;
    try {
      message = decodeMessage(codec, frame);
    } catch (error) {
      return this.#reject(stream, null, (error as Error).message);
    }
    try {
      await this.#deliver(message);
    } catch (error) {
      return this.#reject(stream, message.id, error instanceof Error ? error.message : String(error));
    }
    try {
      await write(stream, callBinding(() => codec.encodeMessageReply(JSON.stringify({ id: message.id }))));
      await finish(stream);
    } catch {
      // the sender gave up or the connection ended: it will not see the acknowledgement
    }
  }

  async #deliver(message: QuicMessage): Promise<void> {
    if (this.#options.onMessage) {
      await this.#options.onMessage(message);
      return;
    }
    const receiver = this.#receivers.shift();
    if (receiver) {
      receiver.resolve(message);
      return;
    }
    while (this.#inbox.length >= INBOX_LIMIT && this.isOpen) await new Promise<void>((wake) => this.#roomWaiters.push(wake));
    if (!this.isOpen) throw new Error('the connection ended before the message was taken');
    this.#inbox.push(message);
  }

  /** The next message the peer sent (inbox delivery); rejects once the connection has ended. */
  nextMessage(): Promise<QuicMessage> {
    this.touch();
    const message = this.#inbox.shift();
    if (message) {
      this.#roomWaiters.shift()?.();
      return Promise.resolve(message);
    }
    const info = this.closeInfo;
    if (info) return Promise.reject(closedError(info));
    return new Promise<QuicMessage>((resolve, reject) => this.#receivers.push({ resolve, reject }));
  }

  /** Messages received and not yet taken. */
  get queuedMessages(): number {
    return this.#inbox.length;
  }

  /**
   * Sends `message` on a stream of its own and settles when the peer has
   * acknowledged it. A rejection is ERR_QUIC_BAD_FRAME with `remote: true`
   * and the peer's reason. A message sent as 0-RTT data that the server
   * refused (it never saw it) is sent again once the handshake completes.
   */
  async sendMessage(message: QuicMessage): Promise<void> {
    const { head, payload } = frameFor(this.#options.codec, message, this.#options.maxMessageSize);
    if (!this.isOpen) throw closedError(this.closeInfo!);
    try {
      return await this.#exchange(message.id, head, payload);
    } catch (error) {
      if (!(error instanceof QuicError) || error.code !== 'ERR_QUIC_EARLY_DATA_REJECTED') throw error;
      await this.connection.handshakeComplete;
      return this.#exchange(message.id, head, payload);
    }
  }

  async #exchange(id: string, head: Uint8Array, payload: Uint8Array): Promise<void> {
    this.touch();
    let stream: Stream | undefined;
    const exchange = (async () => {
      stream = await this.connection.openStream();
      this.track(stream);
      await write(stream, head);
      if (payload.byteLength > 0) await write(stream, payload);
      await finish(stream);
      return readToEnd(stream, MAX_REPLY_BYTES, (size) => quicError('ERR_QUIC_BAD_FRAME', `the reply to message ${id} is longer than a reply can be (${size} bytes)`, { remote: true }));
    })();
    const replyBytes = await withDeadline(this.#options.streamTimeoutMs, `message ${id}`, 'streamTimeout', exchange, () => stream?.destroy());
    const reply = JSON.parse(callBinding(() => this.#options.codec.decodeMessageReply(replyBytes))) as { id: string | null; error?: string };
    if (reply.error !== undefined) {
      throw quicError('ERR_QUIC_BAD_FRAME', `the peer rejected message ${id}: ${reply.error}`, { remote: true, reason: reply.error });
    }
    if (reply.id !== id) throw quicError('ERR_QUIC_BAD_FRAME', `the peer acknowledged ${String(reply.id)} in reply to message ${id}`, { remote: true });
  }

  /** Opens a data stream (after the handshake: data streams are not sent as 0-RTT). */
  async openDataStream(): Promise<DataStream> {
    if (!this.isOpen) throw closedError(this.closeInfo!);
    this.touch();
    let stream: Stream | undefined;
    const open = (async () => {
      await this.connection.handshakeComplete;
      stream = await this.connection.openStream();
      this.track(stream);
      await write(stream, callBinding(() => this.#options.codec.dataStreamHead()));
      return stream;
    })();
    return new DataStream(await withDeadline(this.#options.streamTimeoutMs, 'opening a stream', 'streamTimeout', open, () => stream?.destroy()), this, this.#options.streamTimeoutMs);
  }
}

/** The frame of `message` (head, then the payload as it is), checked against `maxMessageSize`. */
export function frameFor(codec: BackendMessageCodec, message: QuicMessage, maxMessageSize: number): { head: Uint8Array; payload: Uint8Array } {
  const frame = encodeMessage(codec, message);
  const size = frame.head.length + frame.payload.length;
  if (size > maxMessageSize) throw invalidArg(`message of ${size} bytes (framed) exceeds maxMessageSize (${maxMessageSize})`);
  return frame;
}

/**
 * Hands `message` to the emitter's `'message'` listeners and waits for what
 * they return: the acknowledgement follows. None is an error the sender sees.
 */
export async function deliverToListeners(emitter: EventEmitter, message: QuicMessage, connectionId: string, who: string): Promise<void> {
  const listeners = emitter.rawListeners('message') as ((message: QuicMessage, connectionId: string) => unknown)[];
  if (listeners.length === 0) throw new Error(`no receiver for messages on ${who} (no message listener)`);
  await Promise.all(listeners.map((listener) => listener.call(emitter, message, connectionId)));
}

export function checkSessionOpen(session: TrackedConnection | undefined, id: string): asserts session is TrackedConnection {
  if (!session) throw invalidArg(`no connection ${id} (connect first)`);
  if (!session.isOpen) throw invalidState(`connection ${id} has ended`);
}
