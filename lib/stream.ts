import { addAbortSignal, Duplex, type DuplexOptions } from 'node:stream';
import {
  ByteLengthQueuingStrategy,
  ReadableStream as WebReadableStream,
  type ReadableStream,
  WritableStream as WebWritableStream,
  type WritableStream,
} from 'node:stream/web';

import type { BackendStream } from './backend';
import { callBinding, fromBinding, invalidState } from './errors';
import { checkCode } from './options';

/** Bytes asked of the backend per read: large enough to amortize the call. */
const READ_CHUNK_BYTES = 64 * 1024;
const HIGH_WATER_MARK = 256 * 1024;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Stands in for an 'error' listener while the error is delivered another way. */
function ignoreError(): void {}

export type StreamDirection = 'bidirectional' | 'unidirectional';

/** @internal */
export interface StreamInit {
  readable: boolean;
  writable: boolean;
  signal?: AbortSignal;
}

/**
 * A QUIC stream as a Node Duplex (and, through `toWeb()`, Web Streams).
 * Writes resolve only when the backend has buffered them (flow control and
 * the send window bound that buffer), and the backend is read only while
 * the readable side wants data: backpressure reaches the peer.
 *
 * A unidirectional stream is only writable (ours) or only readable (the
 * peer's).
 */
export class QuicStream extends Duplex {
  readonly #handle: BackendStream;
  readonly direction: StreamDirection;
  #reading = false;
  /** Our sending half is finished or reset: nothing more to tell the peer. */
  #sendDone: boolean;
  /** Our receiving half ended, failed or was stopped. */
  #receiveDone: boolean;
  #resetByUs = false;
  #stoppedByUs = false;
  #web: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } | undefined;

  /** @internal */
  constructor(handle: BackendStream, init: StreamInit) {
    // `readable`/`writable: false` make one side of a unidirectional stream
    // start out ended (Node supports them; its typings lag).
    const options: DuplexOptions & { readable: boolean; writable: boolean } = {
      allowHalfOpen: true,
      readable: init.readable,
      writable: init.writable,
      readableHighWaterMark: HIGH_WATER_MARK,
      writableHighWaterMark: HIGH_WATER_MARK,
    };
    super(options);
    this.#handle = handle;
    this.direction = init.readable && init.writable ? 'bidirectional' : 'unidirectional';
    this.#sendDone = !init.writable;
    this.#receiveDone = !init.readable;
    if (init.signal) addAbortSignal(init.signal, this);
  }

  /**
   * Iterating reads to the end without destroying the stream (Node's
   * default iterator destroys it, which would reset our sending half before
   * a reply could be written). Leaving the loop early sends STOP_SENDING.
   * A stream whose readable side nothing else has touched is read straight
   * from the backend, past the Readable machinery: a request/response
   * that only iterates pays for none of it.
   */
  override [Symbol.asyncIterator](): ReturnType<Duplex[typeof Symbol.asyncIterator]> {
    const iterator = this.#readableUntouched() ? this.#backendChunks() : this.#readableChunks();
    return iterator as ReturnType<Duplex[typeof Symbol.asyncIterator]>;
  }

  #readableUntouched(): boolean {
    return (
      !this.#reading &&
      !this.#receiveDone &&
      !this.destroyed &&
      this.readableFlowing === null &&
      this.readableLength === 0 &&
      this.listenerCount('data') === 0 &&
      this.listenerCount('readable') === 0
    );
  }

  /** Stops the peer's sending when a reader leaves before the end. */
  #leftEarly(): void {
    if (!this.#receiveDone && !this.destroyed) this.stopSending(0);
  }

  async *#readableChunks(): AsyncGenerator<Buffer> {
    let complete = false;
    try {
      for await (const chunk of this.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
      complete = true;
    } finally {
      if (!complete) this.#leftEarly();
    }
  }

  /** Why a read in progress cannot go on: the error the stream was destroyed with. */
  #destroyedError(): Error | undefined {
    if (!this.destroyed) return undefined;
    return this.errored ?? invalidState('the stream was destroyed while being read');
  }

  /**
   * Reads straight from the backend: one promise per chunk, no generator.
   * `#reading` keeps `_read` (a late 'data' listener, a pipe) off the
   * backend meanwhile.
   */
  #backendChunks(): AsyncIterableIterator<Buffer> {
    this.#reading = true;
    let done = false;
    const finish = (): IteratorResult<Buffer> => {
      done = true;
      this.#reading = false;
      return { done: true, value: undefined };
    };
    const fail = (error: unknown): never => {
      finish();
      // The error reaches the reader by the rejected read, as with Node's
      // own iterator: the stream's 'error' event must not also go unhandled.
      if (!this.destroyed) {
        this.once('error', ignoreError);
        this.#readFailed(error);
      }
      throw this.#destroyedError() ?? fromBinding(error);
    };
    const settle = (chunk: Uint8Array | null): IteratorResult<Buffer> => {
      const destroyed = this.#destroyedError();
      if (destroyed) return fail(destroyed);
      if (this.#stoppedByUs) return finish();
      if (chunk !== null) return { done: false, value: asBuffer(chunk) };
      this.#receiveDone = true;
      // The readable side ends as if it had been read: 'end', then 'close'
      // once the writable side is done too.
      this.push(null);
      this.read(0);
      return finish();
    };
    // An async function turns what `settle` or `fail` throws into a rejection.
    // eslint-disable-next-line @typescript-eslint/require-await
    const now = async (result: () => IteratorResult<Buffer>): Promise<IteratorResult<Buffer>> => result();
    const iterator: AsyncIterableIterator<Buffer> = {
      next: (): Promise<IteratorResult<Buffer>> => {
        if (done) return Promise.resolve({ done: true, value: undefined });
        let chunk: Uint8Array | null | undefined;
        try {
          chunk = this.#handle.tryRead(READ_CHUNK_BYTES);
        } catch (error) {
          return now(() => fail(error));
        }
        if (chunk === undefined) return this.#handle.read(READ_CHUNK_BYTES).then(settle, fail);
        const ready = chunk;
        return now(() => settle(ready));
      },
      return: (): Promise<IteratorResult<Buffer>> => {
        if (!done) {
          finish();
          this.#leftEarly();
        }
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** The QUIC stream ID. */
  get id(): number {
    return this.#handle.id;
  }

  /** Whether the peer opened this stream in 0-RTT data (before the handshake completed). */
  get early(): boolean {
    return this.#handle.early;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Data written after our own reset is discarded by design.
    const failed = (error: unknown) => callback(this.#resetByUs ? null : fromBinding(error));
    let taken: number;
    try {
      taken = this.#handle.tryWrite(chunk);
    } catch (error) {
      failed(error);
      return;
    }
    if (taken === chunk.length) {
      callback();
      return;
    }
    this.#handle.write(taken === 0 ? chunk : chunk.subarray(taken)).then(() => callback(), failed);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#resetByUs) {
      callback();
      return;
    }
    try {
      callBinding(() => this.#handle.finish());
      this.#sendDone = true;
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _read(): void {
    if (this.#reading || this.#receiveDone) return;
    // What has already arrived is taken synchronously; only an empty
    // receive buffer costs an asynchronous call.
    for (;;) {
      let chunk: Uint8Array | null | undefined;
      try {
        chunk = this.#handle.tryRead(READ_CHUNK_BYTES);
      } catch (error) {
        this.#readFailed(error);
        return;
      }
      if (chunk === undefined) break;
      if (!this.#deliver(chunk)) return;
    }
    this.#reading = true;
    this.#handle.read(READ_CHUNK_BYTES).then(
      (chunk) => {
        this.#reading = false;
        if (this.#deliver(chunk)) this._read();
      },
      (error: unknown) => {
        this.#reading = false;
        this.#readFailed(error);
      },
    );
  }

  /** Hands a read's outcome to the readable side; true when it wants more. */
  #deliver(chunk: Uint8Array | null): boolean {
    if (this.#stoppedByUs) return false;
    if (chunk === null) {
      this.#receiveDone = true;
      this.push(null);
      return false;
    }
    return this.push(asBuffer(chunk));
  }

  #readFailed(error: unknown): void {
    this.#receiveDone = true;
    if (!this.#stoppedByUs) this.destroy(fromBinding(error));
  }

  /**
   * Abandons our sending half with RESET_STREAM: the peer's reads fail with
   * ERR_QUIC_STREAM_RESET carrying `code`. What was not yet sent is dropped.
   */
  reset(code = 0): void {
    checkCode(code);
    callBinding(() => this.#handle.reset(code));
    this.#resetByUs = true;
    this.#sendDone = true;
    this.end();
  }

  /**
   * Asks the peer to stop sending with STOP_SENDING: its writes fail with
   * ERR_QUIC_STREAM_STOPPED carrying `code`. Our readable side ends.
   */
  stopSending(code = 0): void {
    checkCode(code);
    if (this.#receiveDone) throw invalidState('the receiving half is already finished or stopped');
    callBinding(() => this.#handle.stop(code));
    this.#stoppedByUs = true;
    this.#receiveDone = true;
    this.push(null);
  }

  /**
   * The same stream as Web Streams, with the same backpressure (use one
   * form or the other, not both). Node's own `Duplex.toWeb` is not used:
   * on Node 20 its readable side waits for the writable side to finish,
   * which deadlocks an echo.
   */
  toWeb(): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
    this.#web ??= { readable: this.#webReadable(), writable: this.#webWritable() };
    return this.#web;
  }

  #webReadable(): ReadableStream<Uint8Array> {
    return new WebReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.pause();
          this.on('data', (chunk: Buffer) => {
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            if ((controller.desiredSize ?? 0) <= 0) this.pause();
          });
          this.once('end', () => controller.close());
          this.once('error', (error) => controller.error(error));
        },
        pull: () => {
          this.resume();
        },
        cancel: () => {
          if (!this.#receiveDone) this.stopSending(0);
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER_MARK }),
    );
  }

  #webWritable(): WritableStream<Uint8Array> {
    return new WebWritableStream<Uint8Array>({
      // Settles once the backend has buffered the chunk: the same backpressure as write().
      write: (chunk) => new Promise<void>((resolve, reject) => this.write(chunk, (error) => (error ? reject(error) : resolve()))),
      close: () =>
        new Promise<void>((resolve, reject) => {
          this.once('error', reject);
          this.end(() => resolve());
        }),
      abort: () => {
        if (!this.#sendDone) this.reset(0);
      },
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Abandoning a stream midway tells the peer so, instead of leaving it
    // waiting: RESET_STREAM for what we did not finish sending, STOP_SENDING
    // for what we will not read. Both may fail if the connection is gone.
    if (!this.#sendDone) {
      try {
        this.#handle.reset(0);
      } catch {
        // already finished, reset or closed
      }
    }
    if (!this.#receiveDone) {
      try {
        this.#handle.stop(0);
      } catch {
        // already finished, stopped or closed
      }
    }
    callback(error);
  }
}
