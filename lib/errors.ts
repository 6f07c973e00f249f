/**
 * One error hierarchy for everything quicbridge throws or rejects with.
 * Branch on `code` (stable strings), not on messages or classes.
 */

export type QuicErrorCode =
  | 'ERR_QUIC_INVALID_ARG'
  | 'ERR_QUIC_INVALID_STATE'
  | 'ERR_QUIC_TLS'
  | 'ERR_QUIC_CONNECTION_CLOSED'
  | 'ERR_QUIC_CONNECTION_REFUSED'
  | 'ERR_QUIC_CONNECTION_RESET'
  | 'ERR_QUIC_TIMEOUT'
  | 'ERR_QUIC_LIMIT'
  | 'ERR_QUIC_STREAM_RESET'
  | 'ERR_QUIC_STREAM_STOPPED'
  | 'ERR_QUIC_PROTOCOL'
  | 'ERR_QUIC_VERSION_MISMATCH'
  | 'ERR_QUIC_IO'
  | 'ERR_QUIC_DATAGRAM_UNSUPPORTED'
  | 'ERR_QUIC_DATAGRAM_TOO_LARGE'
  | 'ERR_QUIC_EARLY_DATA_REJECTED'
  | 'ERR_QUIC_HTTP3'
  | 'ERR_QUIC_BAD_FRAME'
  | 'ABORT_ERR'
  | 'ERR_QUIC_BACKEND_UNAVAILABLE'
  | 'ERR_QUIC_NO_BACKEND'
  | 'ERR_QUIC_BACKEND_UNSUPPORTED'
  | 'ERR_QUIC_INTERNAL';

export interface QuicErrorDetails {
  /** The QUIC error code carried by a close, reset or stop. */
  quicCode?: number;
  /** The reason phrase the peer sent, if any. */
  reason?: string;
  /** True when the peer caused the error. */
  remote?: boolean;
  /** The TLS alert of a failed handshake, e.g. `unknown_ca`, `no_application_protocol`. */
  tlsAlert?: string;
}

export class QuicError extends Error {
  readonly code: QuicErrorCode;
  declare readonly quicCode?: number;
  declare readonly reason?: string;
  declare readonly remote?: boolean;
  declare readonly tlsAlert?: string;

  constructor(code: QuicErrorCode, message: string, details: QuicErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    if (details.quicCode !== undefined) this.quicCode = details.quicCode;
    if (details.reason !== undefined) this.reason = details.reason;
    if (details.remote !== undefined) this.remote = details.remote;
    if (details.tlsAlert !== undefined) this.tlsAlert = details.tlsAlert;
  }
}

/** A handshake failed for a TLS reason: certificate, server name, ALPN. */
export class QuicTlsError extends QuicError {}
/** The connection is (or was) closed; `quicCode` and `reason` say how. */
export class QuicConnectionError extends QuicError {}
/** The peer reset (`ERR_QUIC_STREAM_RESET`) or stopped (`ERR_QUIC_STREAM_STOPPED`) a stream. */
export class QuicStreamError extends QuicError {}
/** An argument was of the wrong type or out of range. */
export class QuicInvalidArgError extends QuicError {}
/** An operation does not fit the object's state (closed, finished…). */
export class QuicStateError extends QuicError {}
/** No backend (or not the requested one) could be loaded or does this. */
export class QuicBackendError extends QuicError {}
/** A datagram could not be sent: the peer does not accept them, or it is too large. */
export class QuicDatagramError extends QuicError {}
/** An HTTP/3 protocol error; `quicCode` is the H3 error code. */
export class QuicHttp3Error extends QuicError {}
/** An operation was aborted through its AbortSignal (`name` is `AbortError`, as Node's). */
export class QuicAbortError extends QuicError {
  constructor(code: QuicErrorCode, message: string, details?: QuicErrorDetails, options?: ErrorOptions) {
    super(code, message, details, options);
    this.name = 'AbortError';
  }
}

const classes: Partial<Record<QuicErrorCode, new (code: QuicErrorCode, message: string, details?: QuicErrorDetails) => QuicError>> = {
  ERR_QUIC_TLS: QuicTlsError,
  ERR_QUIC_CONNECTION_CLOSED: QuicConnectionError,
  ERR_QUIC_CONNECTION_REFUSED: QuicConnectionError,
  ERR_QUIC_CONNECTION_RESET: QuicConnectionError,
  ERR_QUIC_TIMEOUT: QuicConnectionError,
  ERR_QUIC_VERSION_MISMATCH: QuicConnectionError,
  ERR_QUIC_PROTOCOL: QuicConnectionError,
  ERR_QUIC_STREAM_RESET: QuicStreamError,
  ERR_QUIC_STREAM_STOPPED: QuicStreamError,
  ERR_QUIC_INVALID_ARG: QuicInvalidArgError,
  ERR_QUIC_INVALID_STATE: QuicStateError,
  ERR_QUIC_BACKEND_UNAVAILABLE: QuicBackendError,
  ERR_QUIC_NO_BACKEND: QuicBackendError,
  ERR_QUIC_BACKEND_UNSUPPORTED: QuicBackendError,
  ERR_QUIC_DATAGRAM_UNSUPPORTED: QuicDatagramError,
  ERR_QUIC_DATAGRAM_TOO_LARGE: QuicDatagramError,
  ERR_QUIC_EARLY_DATA_REJECTED: QuicConnectionError,
  ERR_QUIC_HTTP3: QuicHttp3Error,
  ABORT_ERR: QuicAbortError,
};

export function quicError(code: QuicErrorCode, message: string, details?: QuicErrorDetails, options?: ErrorOptions): QuicError {
  const Class = classes[code] ?? QuicError;
  const error = new Class(code, message, details);
  if (options?.cause !== undefined) Object.defineProperty(error, 'cause', { value: options.cause, configurable: true, writable: true });
  return error;
}

export function invalidArg(message: string): QuicError {
  return quicError('ERR_QUIC_INVALID_ARG', message);
}

export function invalidState(message: string): QuicError {
  return quicError('ERR_QUIC_INVALID_STATE', message);
}

interface Envelope {
  code: QuicErrorCode;
  message: string;
  details?: QuicErrorDetails;
}

/**
 * Both bindings reject with an Error whose message is a JSON envelope made
 * by the Rust core; this turns it (or anything else a binding threw) into a
 * QuicError. Errors that are already QuicErrors pass through.
 */
export function fromBinding(error: unknown): QuicError {
  if (error instanceof QuicError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('{"code":"ERR_QUIC_')) {
    try {
      const envelope = JSON.parse(message) as Envelope;
      return quicError(envelope.code, envelope.message, envelope.details ?? {});
    } catch {
      // fall through: not an envelope after all
    }
  }
  if (error instanceof TypeError) {
    // napi-rs and wasm-bindgen reject arguments of the wrong JS type this way.
    return quicError('ERR_QUIC_INVALID_ARG', message, {}, { cause: error });
  }
  return quicError('ERR_QUIC_INTERNAL', `unexpected error from the backend: ${message}`, {}, { cause: error });
}

/** Runs a synchronous binding call, translating what it throws. */
export function callBinding<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromBinding(error);
  }
}

/** Awaits a binding promise, translating its rejection. */
export async function awaitBinding<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw fromBinding(error);
  }
}
