import { Duplex } from 'node:stream';

import type { BackendStream } from './backend';
import { awaitBinding, callBinding, fromBinding } from './errors';

/** Bytes asked of the backend per read: large enough to amortize the call. */
const READ_CHUNK_BYTES = 64 * 1024;
const HIGH_WATER_MARK = 256 * 1024;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A QUIC stream as a Node Duplex. Writes resolve only when the backend has
 * buffered them (flow control and the send window bound that buffer), and
 * the backend is read only while the readable side wants data: backpressure
 * goes all the way to the peer.
 */
export class QuicStream extends Duplex {
  readonly #handle: BackendStream;
  #reading = false;
  #sendDone = false;
  #receiveDone = false;

  /** @internal */
  constructor(handle: BackendStream) {
    super({ allowHalfOpen: true, readableHighWaterMark: HIGH_WATER_MARK, writableHighWaterMark: HIGH_WATER_MARK });
    this.#handle = handle;
  }

  /** The QUIC stream ID. */
  get id(): number {
    return this.#handle.id;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#handle.write(chunk).then(
      () => callback(),
      (error: unknown) => callback(fromBinding(error)),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      callBinding(() => this.#handle.finish());
      this.#sendDone = true;
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    awaitBinding(this.#handle.read(READ_CHUNK_BYTES)).then(
      (chunk) => {
        this.#reading = false;
        if (chunk === null) {
          this.#receiveDone = true;
          this.push(null);
        } else if (this.push(asBuffer(chunk))) {
          this._read();
        }
      },
      (error: unknown) => {
        this.#reading = false;
        this.#receiveDone = true;
        this.destroy(error as Error);
      },
    );
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
