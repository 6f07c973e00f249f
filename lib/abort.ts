import { invalidArg, quicError, type QuicError } from './errors';

export interface AbortOptions {
  /** Aborting rejects the operation with an `AbortError` (code `ABORT_ERR`). */
  signal?: AbortSignal;
}

export function abortError(signal: AbortSignal): QuicError {
  return quicError('ABORT_ERR', 'the operation was aborted', {}, { cause: signal.reason as unknown });
}

/** Checks an options bag's `signal` and returns it. */
export function signalOf(options: AbortOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw invalidArg('options must be an object');
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArg('signal must be an AbortSignal');
  }
  return signal;
}

/**
 * Settles like `promise`, or rejects with an AbortError as soon as `signal`
 * aborts. A value that arrives after the abort goes to `discard` (so that,
 * say, a stream opened too late is reset rather than leaked).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, discard: (value: T) => void): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.then(discard, () => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (aborted) discard(value);
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the original rejection through unchanged
        if (!aborted) reject(error);
      },
    );
  });
}
