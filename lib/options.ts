import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

import type { BackendName } from './backend';
import type { DatagramTransport } from './datagram-transport';
import { invalidArg } from './errors';

/** PEM text, as a string or the bytes of a .pem file. */
export type Pem = string | Uint8Array;

export type CongestionControl = 'cubic' | 'newreno' | 'bbr';

/** A TLS 1.3 cipher suite, by its IANA name. */
export type CipherSuite = 'TLS_AES_128_GCM_SHA256' | 'TLS_AES_256_GCM_SHA384' | 'TLS_CHACHA20_POLY1305_SHA256';

/**
 * When a server validates client addresses with a Retry packet before
 * keeping any state for them: `always`, `never`, or `auto` (default) —
 * only while unvalidated handshakes arrive faster than `retryThreshold`
 * per second.
 */
export type RetryPolicy = 'always' | 'auto' | 'never';

/** Per-connection transport settings; every limit has a bounded default. */
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
  /** UDP payload size to start with, 1200–65527 (default 1200; a client on loopback 65 507). */
  initialMtu?: number;
  /**
   * Probe for a larger path MTU. Default: where the socket sets don't-fragment
   * (native). `true` on a transport that may fragment (wasm's node:dgram)
   * fails with ERR_QUIC_BACKEND_UNSUPPORTED.
   */
  mtuDiscovery?: boolean;
  /** Congestion controller (default `cubic`). */
  congestionControl?: CongestionControl;
  /** Bytes of received datagrams kept until read (default 1 MiB); 0 refuses datagrams. */
  datagramReceiveBufferSize?: number;
  /** Bytes of datagrams queued for sending (default 1 MiB). */
  datagramSendBufferSize?: number;
  /** The congestion window a connection starts with, in bytes, 1200–1 GiB (default: the controller's, 12 000). */
  initialCongestionWindow?: number;
  /**
   * The largest UDP payload this side sends or accepts, 1200–65527: MTU
   * discovery stops there, and the peer is told not to send larger
   * (default: 1472 both, quinn's; on loopback 65 507 both).
   */
  maxUdpPayloadSize?: number;
}

/** Where TLS secrets go: a file to append to (SSLKEYLOGFILE format), a callback, or `true` for $SSLKEYLOGFILE. */
export type KeyLogOption = string | true | ((line: string) => void);

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
  /** Ask clients for certificates (mutual TLS), verified against `ca`. */
  clientAuth?: { ca: Pem | Pem[]; required?: boolean };
  /** Issue session tickets so that clients can resume (default false). */
  resumption?: boolean;
  /** Accept 0-RTT data from resuming clients (default false; implies resumption). 0-RTT data can be replayed. */
  earlyData?: boolean;
  /** Connections beyond this many are refused with CONNECTION_REFUSED (default 10 000). */
  maxConnections?: number;
  /** Address validation with Retry (default `auto`). */
  retry?: RetryPolicy;
  /** Unvalidated handshakes per second above which `retry: 'auto'` sends Retry (default 1000). */
  retryThreshold?: number;
  /** TLS 1.3 cipher suites to accept, e.g. `['TLS_CHACHA20_POLY1305_SHA256']` (default: all three). */
  cipherSuites?: CipherSuite[];
  keylog?: KeyLogOption;
  /** Use this backend rather than the loader's choice. */
  backend?: BackendName;
  /**
   * Run on this datagram transport instead of a UDP socket of quicbridge's
   * own (then `address`/`port` are the transport's business). Only the wasm
   * backend can: it is picked when `backend` is not given.
   */
  datagramTransport?: DatagramTransport;
}

/** What `QuicEndpoint.listen()` takes: `listen()`'s options, less those that choose the endpoint. */
export type EndpointListenOptions = Omit<ListenOptions, 'address' | 'port' | 'backend' | 'datagramTransport' | 'keylog'>;

export interface ConnectOptions {
  /** Server host name or IP address. */
  host: string;
  port: number;
  /** Resolve `host` to this IP family only (default: whichever the resolver gives first). */
  family?: 4 | 6;
  /** Name the server's certificate must carry (default: `host`). */
  servername?: string;
  /** PEM CA certificate(s) the server's certificate must chain to. */
  ca?: Pem | Pem[];
  /** Also trust the system's CA certificates (default false). */
  systemRoots?: boolean;
  /**
   * Trust exactly the server certificate(s) with these SHA-256 fingerprints
   * (hex, colons allowed, as `X509Certificate.fingerprint256` prints them)
   * instead of a CA: for self-signed servers. The server must still prove it
   * holds the certificate's key.
   */
  pinnedSha256?: string | string[];
  /**
   * Accept ANY server certificate: no chain or name check. Anyone on the
   * path can then read and change the traffic. For tests only.
   */
  insecureSkipVerify?: boolean;
  /** Client certificate chain (PEM) and key, for servers that ask for one. */
  cert?: Pem;
  key?: Pem;
  /** ALPN protocols to offer, in order of preference. */
  alpn: string | string[];
  transport?: TransportOptions;
  /** Keep the session ticket and resume with it next time (default false). */
  resumption?: boolean;
  /**
   * Send 0-RTT data when resuming (default false; implies resumption): connect()
   * then resolves before the handshake completes; see `handshakeComplete`.
   */
  earlyData?: boolean;
  /** TLS 1.3 cipher suites to offer, in order of preference (default: all three). */
  cipherSuites?: CipherSuite[];
  keylog?: KeyLogOption;
  /** Local address to bind (default: loopback for a loopback server, else any). */
  localAddress?: string;
  /** Use this backend rather than the loader's choice. */
  backend?: BackendName;
  /** As for `listen()`: run on a caller-supplied datagram transport (wasm backend). */
  datagramTransport?: DatagramTransport;
  /**
   * Share one endpoint (one UDP socket) with the other connections of this
   * backend and local address (default true). `false` gives the connection
   * an endpoint of its own, which `rebind()` can move; so do `keylog` and
   * `datagramTransport`.
   */
  reuseEndpoint?: boolean;
  signal?: AbortSignal;
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

function pemList(value: unknown, field: string): string {
  const list = Array.isArray(value) ? value : [value];
  return list.map((pem, i) => pemText(pem, Array.isArray(value) ? `${field}[${i}]` : field)).join('\n');
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

export function checkBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArg(`${field} must be a boolean, got ${describeValue(value)}`);
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

/** An application error code: what QUIC carries in closes, resets and stops. */
export function checkCode(value: unknown, field = 'code'): number {
  return checkInteger(value, field, 0, Number.MAX_SAFE_INTEGER);
}

export function checkReason(value: unknown): string {
  if (typeof value !== 'string') throw invalidArg(`reason must be a string, got ${describeValue(value)}`);
  return value;
}

const numericTransportFields = [
  'idleTimeoutMs',
  'keepAliveIntervalMs',
  'maxConcurrentBidiStreams',
  'maxConcurrentUniStreams',
  'streamReceiveWindow',
  'receiveWindow',
  'sendWindow',
  'initialMtu',
  'datagramReceiveBufferSize',
  'datagramSendBufferSize',
  'initialCongestionWindow',
  'maxUdpPayloadSize',
] as const;
const transportFields: readonly string[] = [...numericTransportFields, 'mtuDiscovery', 'congestionControl'];
const congestionControllers: readonly string[] = ['cubic', 'newreno', 'bbr'];

function transportOptions(value: unknown): TransportOptions {
  if (value === undefined) return {};
  checkObject(value, 'transport');
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!transportFields.includes(key)) {
      throw invalidArg(`transport.${key} is not a transport option (known: ${transportFields.join(', ')})`);
    }
    if (v === undefined) continue;
    if (key === 'mtuDiscovery') out[key] = checkBoolean(v, 'transport.mtuDiscovery');
    else if (key === 'congestionControl') {
      if (typeof v !== 'string' || !congestionControllers.includes(v)) {
        throw invalidArg(`transport.congestionControl must be one of ${congestionControllers.join(', ')}, got ${describeValue(v)}`);
      }
      out[key] = v;
    } else out[key] = checkInteger(v, `transport.${key}`, 0, Number.MAX_SAFE_INTEGER);
  }
  return out;
}

const cipherSuiteNames: readonly string[] = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

function cipherSuites(value: unknown): CipherSuite[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidArg(`cipherSuites must be a non-empty array of cipher suite names, got ${describeValue(value)}`);
  }
  for (const suite of value) {
    if (typeof suite !== 'string' || !cipherSuiteNames.includes(suite)) {
      throw invalidArg(`cipherSuites: ${describeValue(suite)} is not one of ${cipherSuiteNames.join(', ')}`);
    }
  }
  return value as CipherSuite[];
}

const retryPolicies: readonly string[] = ['always', 'auto', 'never'];

function retryPolicy(value: unknown): RetryPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !retryPolicies.includes(value)) {
    throw invalidArg(`retry must be one of ${retryPolicies.join(', ')}, got ${describeValue(value)}`);
  }
  return value as RetryPolicy;
}

/** Checks listen options and returns the core's JSON for them. */
/** Checks what a server is made of (certificate, ALPN, limits) and returns the core's `ServerOptions` for it. */
export function serverOptions(options: EndpointListenOptions): object {
  let clientAuth: { ca: string; required: boolean } | undefined;
  if (options.clientAuth !== undefined) {
    checkObject(options.clientAuth, 'clientAuth');
    clientAuth = {
      ca: pemList(options.clientAuth.ca, 'clientAuth.ca'),
      required: options.clientAuth.required === undefined ? true : checkBoolean(options.clientAuth.required, 'clientAuth.required'),
    };
  }
  return {
    cert: pemText(options.cert, 'cert'),
    key: pemText(options.key, 'key'),
    alpn: alpnList(options.alpn),
    transport: transportOptions(options.transport),
    clientAuth,
    resumption: checkBoolean(options.resumption, 'resumption'),
    earlyData: checkBoolean(options.earlyData, 'earlyData'),
    maxConnections: options.maxConnections === undefined ? undefined : checkInteger(options.maxConnections, 'maxConnections', 1, 1_000_000),
    retry: retryPolicy(options.retry),
    retryThreshold: options.retryThreshold === undefined ? undefined : checkInteger(options.retryThreshold, 'retryThreshold', 1, 1_000_000),
    cipherSuites: cipherSuites(options.cipherSuites),
  };
}

const systemBundles = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** The system's trusted CA certificates as PEM: SSL_CERT_FILE, the usual bundle paths, else Node's bundled roots. */
export function systemRootsPem(): string {
  for (const file of [process.env.SSL_CERT_FILE, ...systemBundles]) {
    if (file && fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  }
  return tls.rootCertificates.join('\n');
}

let warnedInsecure = false;

/** Checks connect options (host already resolved) and returns the core's JSON for them. */
export function connectOptionsJson(options: ConnectOptions, address: string): string {
  const servername = options.servername ?? options.host;
  if (typeof servername !== 'string' || servername.length === 0) {
    throw invalidArg(`servername must be a non-empty string, got ${describeValue(servername)}`);
  }
  const insecure = checkBoolean(options.insecureSkipVerify, 'insecureSkipVerify');
  const systemRoots = checkBoolean(options.systemRoots, 'systemRoots');
  const roots = [
    ...(options.ca === undefined ? [] : [pemList(options.ca, 'ca')]),
    ...(systemRoots ? [systemRootsPem()] : []),
  ];
  const pins = options.pinnedSha256 === undefined ? [] : Array.isArray(options.pinnedSha256) ? options.pinnedSha256 : [options.pinnedSha256];
  if (!pins.every((pin): pin is string => typeof pin === 'string')) throw invalidArg('pinnedSha256 must be a fingerprint string or an array of them');
  if (roots.length === 0 && pins.length === 0 && !insecure) {
    throw invalidArg('ca is required (the PEM CA certificates the server certificate must chain to), or systemRoots: true, or pinnedSha256');
  }
  if (insecure && !warnedInsecure) {
    warnedInsecure = true;
    process.emitWarning('quicbridge: insecureSkipVerify is set, server certificates are NOT verified', { code: 'QUICBRIDGE_INSECURE' });
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw invalidArg('cert and key: a client certificate needs both');
  }
  return JSON.stringify({
    address,
    port: options.port,
    serverName: servername,
    ca: roots.length > 0 ? roots.join('\n') : undefined,
    insecureSkipVerify: insecure,
    pinnedSha256: pins,
    cert: options.cert === undefined ? undefined : pemText(options.cert, 'cert'),
    key: options.key === undefined ? undefined : pemText(options.key, 'key'),
    alpn: alpnList(options.alpn),
    transport: transportOptions(options.transport),
    resumption: checkBoolean(options.resumption, 'resumption'),
    earlyData: checkBoolean(options.earlyData, 'earlyData'),
    cipherSuites: cipherSuites(options.cipherSuites),
  });
}

/** Turns the `keylog` option into a line callback and a way to close what it opened. */
export function keyLogSink(option: unknown): { callback?: (line: string) => void; close(): void } {
  if (option === undefined || option === false) return { close() {} };
  if (typeof option === 'function') return { callback: (line) => void (option as (line: string) => void)(line), close() {} };
  let file: string | undefined;
  if (option === true) {
    file = process.env.SSLKEYLOGFILE;
    if (!file) throw invalidArg('keylog: true needs the SSLKEYLOGFILE environment variable');
  } else if (typeof option === 'string' && option.length > 0) {
    file = option;
  } else {
    throw invalidArg(`keylog must be a file path, true or a function, got ${describeValue(option)}`);
  }
  const fd = fs.openSync(file, 'a', 0o600);
  let open = true;
  return {
    callback: (line) => {
      if (open) fs.writeSync(fd, line);
    },
    close() {
      if (open) {
        open = false;
        fs.closeSync(fd);
      }
    },
  };
}

/** Checks that a caller-supplied datagram transport has the shape quicbridge needs. */
export function checkDatagramTransport(value: unknown): DatagramTransport {
  checkObject(value, 'datagramTransport');
  for (const method of ['send', 'onDatagram', 'close'] as const) {
    if (typeof value[method] !== 'function') throw invalidArg(`datagramTransport.${method} must be a function`);
  }
  const local = value.localAddress;
  checkObject(local, 'datagramTransport.localAddress');
  checkIp(local.address, 'datagramTransport.localAddress.address');
  checkPort(local.port, 'datagramTransport.localAddress.port', 0);
  return value as unknown as DatagramTransport;
}
