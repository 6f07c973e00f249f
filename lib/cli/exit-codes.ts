import { QuicError } from '../errors';

/** What the CLI's exit status means; scripts can rely on these. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** TLS: the peer's certificate was not trusted, or the handshake failed. */
  tls: 3,
  /** The peer could not be reached, refused, or went silent. */
  connection: 4,
  /** `get`: the server answered with an HTTP error status (400 and up). */
  httpStatus: 5,
  /** A transfer arrived incomplete or its SHA-256 did not match. */
  integrity: 6,
  interrupted: 130,
} as const;

export class UsageError extends Error {}

/** A failure whose exit code is already decided. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof CliFailure) return error.exitCode;
  if (error instanceof QuicError) {
    switch (error.code) {
      case 'ERR_QUIC_INVALID_ARG':
        return ExitCode.usage;
      case 'ERR_QUIC_TLS':
        return ExitCode.tls;
      case 'ERR_QUIC_TIMEOUT':
      case 'ERR_QUIC_CONNECTION_REFUSED':
      case 'ERR_QUIC_CONNECTION_RESET':
      case 'ERR_QUIC_CONNECTION_CLOSED':
      case 'ERR_QUIC_IO':
      case 'ABORT_ERR': // only the handshake timeout aborts
        return ExitCode.connection;
      default:
        return ExitCode.failure;
    }
  }
  return ExitCode.failure;
}
