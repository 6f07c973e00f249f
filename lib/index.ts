export type { BackendName } from './backend';
export type { CloseInfo, CloseKind } from './connection';
export { QuicConnection } from './connection';
export type { DatagramTransport } from './datagram-transport';
export type { SocketAddress } from './endpoint';
export { connect, listen, QuicServer } from './endpoint';
export {
  QuicBackendError,
  QuicConnectionError,
  QuicError,
  QuicInvalidArgError,
  QuicStateError,
  QuicStreamError,
  QuicTlsError,
} from './errors';
export type { QuicErrorCode, QuicErrorDetails } from './errors';
export type { BackendStatus } from './loader';
export { backendStatus } from './loader';
export type { ConnectOptions, ListenOptions, Pem, TransportOptions } from './options';
export { QuicStream } from './stream';

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
