import type { Duplex } from 'node:stream';

import type { Pipe } from './types';

/**
 * A Node Duplex (a QuicStream, an HTTP/2 stream) as a Pipe. `beforeWrite`
 * runs once before the first write or end (an HTTP/2 server responds there).
 * A stream whose own async iterator leaves it open at the end (a QuicStream)
 * is read with that iterator, as its users write `for await`; others with
 * Node's `iterator({ destroyOnReturn: false })`.
 */
export function duplexPipe(stream: Duplex, beforeWrite?: () => void, ownIterator = false): Pipe {
  let prepared = false;
  const prepare = (): void => {
    if (!prepared) {
      prepared = true;
      beforeWrite?.();
    }
  };
  return {
    write(chunk: Uint8Array): Promise<void> {
      prepare();
      return new Promise<void>((resolve, reject) => {
        if (stream.destroyed) {
          reject(stream.errored ?? new Error('write on a destroyed stream'));
          return;
        }
        if (stream.write(chunk)) {
          resolve();
          return;
        }
        const cleanup = (): void => {
          stream.off('drain', onDrain);
          stream.off('error', onError);
          stream.off('close', onClose);
        };
        const onDrain = (): void => {
          cleanup();
          resolve();
        };
        const onError = (error: Error): void => {
          cleanup();
          reject(error);
        };
        const onClose = (): void => {
          cleanup();
          reject(stream.errored ?? new Error('stream closed while waiting to write'));
        };
        stream.on('drain', onDrain);
        stream.on('error', onError);
        stream.on('close', onClose);
      });
    },
    end(): Promise<void> {
      prepare();
      return new Promise<void>((resolve, reject) => {
        stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
      });
    },
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      // Node's default iterator destroys the stream when the readable side
      // ends, which would reset the half we still have to write.
      if (ownIterator) return stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      return stream.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
    },
  };
}

/** A pair of web streams (a @matrixai/quic QUICStream, a Deno QuicBidirectionalStream) as a Pipe. */
export function webPipe(stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }): Pipe {
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  return {
    write: (chunk) => writer.write(chunk),
    end: () => writer.close(),
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    },
  };
}
