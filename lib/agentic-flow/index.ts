/**
 * `quicbridge/agentic-flow`: the QUIC API of the npm package agentic-flow
 * (v1.6–1.10), by the same names, doing what it promised on real QUIC. See
 * docs/agentic-flow.md.
 */
export { QuicClient, type QuicClientEvents, type QuicConnection, type QuicResponse } from './client';
export { loadQuicConfig, QUIC_ENVIRONMENT_VARIABLES, type QuicConfig, type QuicTransportConfig, type ResolvedQuicConfig } from './config';
export { createQuicMessage, messageTypeName, type MessageType, type QuicMessage } from './message';
export { QuicConnectionPool } from './pool';
export { QuicServer, type QuicServerEvents } from './server';
export { AGENTIC_FLOW_ALPN, type QuicStream } from './session';
export type { PoolStats, QuicStats } from './stats';
export { QuicTransport } from './transport';
export { defaultConfig, WasmQuicClient, type ConnectionConfig } from './wasm-client';
export { generateCertificate, type GeneratedCertificate, type GenerateCertificateOptions } from '../certificate';
export { QuicError, type QuicErrorCode } from '../errors';
