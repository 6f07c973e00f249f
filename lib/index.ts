export type { BackendName, EarlyDataState, KeyLogCallback } from './backend';
export type { AbortOptions } from './abort';
export type { CloseInfo, CloseKind, ConnectionStats, PathChange, QuicConnectionEvents, SocketAddress } from './connection';
export { QuicConnection } from './connection';
export type { DatagramTransport } from './datagram-transport';
export { connect, listen, QuicServer } from './endpoint';
export {
  QuicAbortError,
  QuicBackendError,
  QuicConnectionError,
  QuicDatagramError,
  QuicError,
  QuicInvalidArgError,
  QuicStateError,
  QuicStreamError,
  QuicTlsError,
} from './errors';
export type { QuicErrorCode, QuicErrorDetails } from './errors';
export type { BackendStatus } from './loader';
export { backendStatus } from './loader';
export type { CipherSuite, CongestionControl, ConnectOptions, KeyLogOption, ListenOptions, Pem, RetryPolicy, TransportOptions } from './options';
export { QuicStream, type StreamDirection } from './stream';

import type { BackendName } from './backend';
import { loadBackend } from './loader';

/**
 * The backend quicbridge uses by default here (loading it if need be):
 * native when its addon loads, else wasm; `QUICBRIDGE_BACKEND` forces one.
 */
export function activeBackend(): { name: BackendName; path: string; version: string } {
  const { name, path, version } = loadBackend();
  return { name, path, version };
}
