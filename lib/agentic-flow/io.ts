/** Small promise helpers over quicbridge's Duplex streams, for the agentic-flow layer. */
import { once } from 'node:events';
import type { Duplex } from 'node:stream';

import { quicError, type QuicError } from '../errors';

/** The next bytes the stream has (all that are buffered), or null at its end. Rejects with the stream's error. */
export function nextChunk(stream: Duplex): Promise<Buffer | null> {
  return new Promise<Buffer | null>((resolve, reject) => {
    const cleanup = () => {
      stream.off('readable', attempt);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const settle = (action: () => void) => {
      cleanup();
      action();
    };
    function attempt(): boolean {
      if (stream.errored) {
        const error = stream.errored;
        settle(() => reject(error));
        return true;
      }
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) {
        settle(() => resolve(chunk));
        return true;
      }
      if (stream.readableEnded) {
        settle(() => resolve(null));
        return true;
      }
      return false;
    }
    const onEnd = () => settle(() => resolve(null));
    const onError = (error: Error) => settle(() => reject(error));
    const onClose = () => {
      if (!attempt()) settle(() => resolve(null));
    };
    stream.on('readable', attempt);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    attempt();
  });
}

/** Everything the stream sends until its end; `onOverflow` decides what happens beyond `limit` bytes. */
export async function readToEnd(stream: Duplex, limit: number, onOverflow: (size: number) => QuicError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const chunk = await nextChunk(stream);
    if (chunk === null) return Buffer.concat(chunks, size);
    size += chunk.length;
    if (size > limit) throw onOverflow(size);
    chunks.push(chunk);
  }
}

/** Reads until at least `n` bytes have arrived or the stream ended. */
export async function readAtLeast(stream: Duplex, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  while (size < n) {
    const chunk = await nextChunk(stream);
    if (chunk === null) break;
    chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks, size);
}

/** Writes `data`; settles once the backend has taken it (flow control applies). */
export function write(stream: Duplex, data: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Finishes the sending half (FIN). */
export async function finish(stream: Duplex): Promise<void> {
  if (stream.writableFinished) return;
  const finished = once(stream, 'finish');
  stream.end();
  await finished;
}

/**
 * `work` with a deadline of `ms` (0: none): past it, `onTimeout` runs and the
 * result is an ERR_QUIC_TIMEOUT naming `what` and the option that set it.
 */
export async function withDeadline<T>(ms: number, what: string, option: string, work: Promise<T>, onTimeout: () => void): Promise<T> {
  if (ms === 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(quicError('ERR_QUIC_TIMEOUT', `${what} did not complete within ${ms} ms (${option})`));
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    work.catch(() => {}); // settled after the deadline: nobody waits for it
  }
}
