import net from 'node:net';

import { invalidArg } from './errors';
import type { BackendName } from './backend';

/** PEM text, as a string or the bytes of a .pem file. */
export type Pem = string | Uint8Array;

/** Per-connection limits; every one has a bounded default. */
export interface TransportOptions {
  /** Close a connection after this long without traffic; 0 disables (default 30 000). */
  idleTimeoutMs?: number;
  /** Send a keep-alive this often (default: never). */
  keepAliveIntervalMs?: number;
  /** Bidirectional streams the peer may have open at once (default 100). */
  maxConcurrentBidiStreams?: number;
  /** Unidirectional streams the peer may have open at once (default 100). */
  maxConcurrentUniStreams?: number;
  /** Bytes the peer may send on one stream ahead of our reads (default 2 MiB). */
  streamReceiveWindow?: number;
  /** Bytes the peer may send on the connection ahead of our reads (default 16 MiB). */
  receiveWindow?: number;
  /** Bytes buffered for sending per connection (default 16 MiB). */
  sendWindow?: number;
}

export interface ListenOptions {
  /** IP address to bind (default `127.0.0.1`; `0.0.0.0` or `::` for all interfaces). */
  address?: string;
  /** UDP port; 0 (the default) picks a free one. */
  port?: number;
  /** PEM certificate chain, leaf first. */
  cert: Pem;
  /** PEM private key for the leaf certificate. */
  key: Pem;
  /** ALPN protocols the server speaks, in order of preference. */
  alpn: string | string[];
  transport?: TransportOptions;
  /** Use this backend rather than the loader's choice. */
  backend?: BackendName;
}

export interface ConnectOptions {
  /** Server host name or IP address. */
  host: string;
  port: number;
  /** Resolve `host` to this IP family only (default: whichever the resolver gives first). */
  family?: 4 | 6;
  /** Name the server's certificate must carry (default: `host`). */
  servername?: string;
  /** PEM CA certificate(s) the server's certificate must chain to. */
  ca: Pem | Pem[];
  /** ALPN protocols to offer, in order of preference. */
  alpn: string | string[];
  transport?: TransportOptions;
  /** Use this backend rather than the loader's choice. */
  backend?: BackendName;
}

export function checkObject(value: unknown, what: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArg(`${what} must be an object, got ${describeValue(value)}`);
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  switch (typeof value) {
    case 'object':
      return 'an object';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${value}`;
    default:
      return typeof value;
  }
}

function pemText(value: unknown, field: string): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  throw invalidArg(`${field} must be PEM text (a string or a Buffer), got ${describeValue(value)}`);
}

function alpnList(value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((p): p is string => typeof p === 'string')) {
    throw invalidArg(`alpn must be a protocol name or a non-empty array of them, got ${describeValue(value)}`);
  }
  return list;
}

export function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArg(`${field} must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

export function checkPort(value: unknown, field: string, min: number): number {
  return checkInteger(value, field, min, 65535);
}

export function checkIp(value: unknown, field: string): string {
  if (typeof value !== 'string' || net.isIP(value) === 0) {
    throw invalidArg(`${field} must be an IP address, got ${describeValue(value)}`);
  }
  return value;
}

const transportFields: readonly (keyof TransportOptions)[] = [
  'idleTimeoutMs',
  'keepAliveIntervalMs',
  'maxConcurrentBidiStreams',
  'maxConcurrentUniStreams',
  'streamReceiveWindow',
  'receiveWindow',
  'sendWindow',
];

function transportOptions(value: unknown): TransportOptions {
  if (value === undefined) return {};
  checkObject(value, 'transport');
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(transportFields as readonly string[]).includes(key)) {
      throw invalidArg(`transport.${key} is not a transport option (known: ${transportFields.join(', ')})`);
    }
    if (v === undefined) continue;
    out[key] = checkInteger(v, `transport.${key}`, 0, Number.MAX_SAFE_INTEGER);
  }
  return out;
}

/** Checks listen options and returns the core's JSON for them. */
export function serverOptionsJson(options: ListenOptions): string {
  return JSON.stringify({
    server: {
      cert: pemText(options.cert, 'cert'),
      key: pemText(options.key, 'key'),
      alpn: alpnList(options.alpn),
      transport: transportOptions(options.transport),
    },
  });
}

function caText(value: unknown): string {
  if (value === undefined) {
    throw invalidArg('ca is required: the PEM CA certificate(s) that the server certificate must chain to');
  }
  const list = Array.isArray(value) ? value : [value];
  return list.map((pem, i) => pemText(pem, Array.isArray(value) ? `ca[${i}]` : 'ca')).join('\n');
}

/** Checks connect options (host already resolved) and returns the core's JSON for them. */
export function connectOptionsJson(options: ConnectOptions, address: string): string {
  const servername = options.servername ?? options.host;
  if (typeof servername !== 'string' || servername.length === 0) {
    throw invalidArg(`servername must be a non-empty string, got ${describeValue(servername)}`);
  }
  return JSON.stringify({
    address,
    port: options.port,
    serverName: servername,
    ca: caText(options.ca),
    alpn: alpnList(options.alpn),
    transport: transportOptions(options.transport),
  });
}
