export type { BackendName, EarlyDataState, KeyLogCallback } from './backend';
export type { AbortOptions } from './abort';
export { generateCertificate } from './certificate';
export type { GenerateCertificateOptions, GeneratedCertificate } from './certificate';
export type { CloseInfo, CloseKind, ConnectionStats, PathChange, QuicConnectionEvents, SocketAddress } from './connection';
export { QuicConnection } from './connection';
export type { DatagramTransport } from './datagram-transport';
export { connect, QuicEndpoint } from './quic-endpoint';
export type { EndpointConnectOptions, EndpointOptions } from './quic-endpoint';
export { listen, QuicServer } from './server';
export {
  QuicAbortError,
  QuicBackendError,
  QuicConnectionError,
  QuicDatagramError,
  QuicError,
  QuicHttp3Error,
  QuicInvalidArgError,
  QuicStateError,
  QuicStreamError,
  QuicTlsError,
} from './errors';
export type { QuicErrorCode, QuicErrorDetails } from './errors';
export {
  H3_INTERNAL_ERROR,
  H3_REQUEST_CANCELLED,
  Http3Client,
  http3Request,
  Http3Request,
  Http3Response,
  Http3ServerResponse,
  listenHttp3,
  serveHttp3,
} from './http3';
export type { Http3Body, Http3Handler, Http3Headers, Http3HeadersInit, Http3RequestInit } from './http3';
export type { BackendStatus } from './loader';
export { backendStatus } from './loader';
export type { CipherSuite, CongestionControl, ConnectOptions, EndpointListenOptions, KeyLogOption, ListenOptions, Pem, RetryPolicy, TransportOptions } from './options';
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
