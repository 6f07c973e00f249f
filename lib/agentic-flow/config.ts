/**
 * agentic-flow's `QuicConfig` and its environment variables, checked and
 * mapped onto quicbridge's options. Every field does something; an
 * explicit value (0 included) is used as given, or refused with an error
 * naming the field; unset fields take agentic-flow's defaults.
 */
import fs from 'node:fs';

import type { BackendName } from '../backend';
import { generateCertificate } from '../certificate';
import { invalidArg, invalidState } from '../errors';
import { checkObject, describeValue, type ConnectOptions, type ListenOptions, type TransportOptions } from '../options';

/** agentic-flow's configuration, with quicbridge's additions marked. */
export interface QuicConfig {
  /** Server: the address to bind (an IP address or a name; default `0.0.0.0`). */
  host?: string;
  /** Server: the UDP port (default 4433; 0 picks a free one). */
  port?: number;
  /** Server: its certificate chain, PEM (default `./certs/cert.pem`). Client: a certificate for mutual TLS (only when given here). */
  certPath?: string;
  /** The private key of `certPath`, PEM (default `./certs/key.pem`). */
  keyPath?: string;
  /** Client: the server to connect to (default `localhost`). */
  serverHost?: string;
  /** Client: its port (default 4433). */
  serverPort?: number;
  /**
   * Client: verify the server's certificate (default true; `false` maps to
   * quicbridge's `insecureSkipVerify`). Server: require client certificates
   * that chain to `caPath` (default false).
   */
  verifyPeer?: boolean;
  /** Client: connections it holds at most (default 100). Server: connections it accepts at most (default 1000). */
  maxConnections?: number;
  /** Client: milliseconds a connection attempt may take (default 30 000; 0: no limit). */
  connectionTimeout?: number;
  /** Milliseconds without traffic before a connection closes (default 60 000 client, 120 000 server; 0: never). */
  idleTimeout?: number;
  /** Streams of each direction the peer may have open at once (default 100). */
  maxConcurrentStreams?: number;
  /** Milliseconds each message exchange and stream operation may take (default 30 000; 0: no limit). */
  streamTimeout?: number;
  /** The initial congestion window in packets of `maxDatagramSize` (default: quinn's 10 × 1200 bytes). */
  initialCongestionWindow?: number;
  /** The largest UDP payload sent or accepted, 1200–65527 (default: path MTU discovery up to 65527, 1472 accepted). */
  maxDatagramSize?: number;
  /** Client: send 0-RTT data when resuming (default true). Server: accept it (default false; 0-RTT data can be replayed). */
  enableEarlyData?: boolean;
  /** quicbridge: a PEM CA file. Client: what the server's certificate must chain to (default: the system's CAs). Server with `verifyPeer`: what client certificates must chain to. */
  caPath?: string;
  /** quicbridge: a server generates a self-signed certificate (`QuicServer.certificatePem`) instead of reading `certPath`/`keyPath`. */
  generateCertificate?: boolean;
  /** quicbridge: the largest message frame sent or accepted, bytes (default 16 MiB). */
  maxMessageSize?: number;
  /** quicbridge: `false` refuses to start (as `AGENTIC_FLOW_ENABLE_QUIC=false` does; default true). */
  enabled?: boolean;
  /** quicbridge: the backend to run on (default: the loader's choice). */
  backend?: BackendName;
}

/** agentic-flow's `QuicTransport` configuration, plus quicbridge's TLS fields. */
export interface QuicTransportConfig {
  /** The server to connect to (default `localhost`). */
  host?: string;
  /** Its port (default 4433). */
  port?: number;
  maxConcurrentStreams?: number;
  /** A client certificate and key for mutual TLS. */
  certPath?: string;
  keyPath?: string;
  caPath?: string;
  verifyPeer?: boolean;
  backend?: BackendName;
}

export type Role = 'client' | 'server';

/** A configuration with every field checked and defaults filled in. */
export interface ResolvedQuicConfig {
  host: string;
  port: number;
  certPath: string;
  keyPath: string;
  serverHost: string;
  serverPort: number;
  verifyPeer: boolean;
  maxConnections: number;
  connectionTimeout: number;
  idleTimeout: number;
  maxConcurrentStreams: number;
  streamTimeout: number;
  initialCongestionWindow: number | undefined;
  maxDatagramSize: number | undefined;
  enableEarlyData: boolean;
  caPath: string | undefined;
  generateCertificate: boolean;
  maxMessageSize: number;
  enabled: boolean;
  backend: BackendName | undefined;
  /** What set `enabled` (for the error when it is false). */
  enabledBy: string;
  /** Fields given in the configuration or the environment, not defaulted (for the certificate choices). */
  readonly explicit: ReadonlySet<keyof QuicConfig>;
}

const MIB = 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The environment variables, what they set, and how they are read. */
const environment: [variable: string, field: keyof QuicConfig, kind: 'integer' | 'string' | 'boolean'][] = [
  ['AGENTIC_FLOW_ENABLE_QUIC', 'enabled', 'boolean'],
  ['QUIC_PORT', 'port', 'integer'],
  ['QUIC_HOST', 'host', 'string'],
  ['QUIC_SERVER_HOST', 'serverHost', 'string'],
  ['QUIC_SERVER_PORT', 'serverPort', 'integer'],
  ['QUIC_CERT_PATH', 'certPath', 'string'],
  ['QUIC_KEY_PATH', 'keyPath', 'string'],
  ['QUIC_CA_PATH', 'caPath', 'string'],
  ['QUIC_MAX_CONNECTIONS', 'maxConnections', 'integer'],
  ['QUIC_MAX_STREAMS', 'maxConcurrentStreams', 'integer'],
  ['QUIC_VERIFY_PEER', 'verifyPeer', 'boolean'],
];

/** The variables this module reads, for the docs and for tests. */
export const QUIC_ENVIRONMENT_VARIABLES: readonly string[] = environment.map(([variable]) => variable);

const fields: readonly (keyof QuicConfig)[] = [
  'host', 'port', 'certPath', 'keyPath', 'serverHost', 'serverPort', 'verifyPeer', 'maxConnections', 'connectionTimeout', 'idleTimeout',
  'maxConcurrentStreams', 'streamTimeout', 'initialCongestionWindow', 'maxDatagramSize', 'enableEarlyData', 'caPath', 'generateCertificate',
  'maxMessageSize', 'enabled', 'backend',
];

function defaults(role: Role): Required<Omit<QuicConfig, 'initialCongestionWindow' | 'maxDatagramSize' | 'caPath' | 'backend'>> {
  return {
    host: '0.0.0.0',
    port: 4433,
    certPath: './certs/cert.pem',
    keyPath: './certs/key.pem',
    serverHost: 'localhost',
    serverPort: 4433,
    verifyPeer: role === 'client',
    maxConnections: role === 'client' ? 100 : 1000,
    connectionTimeout: 30_000,
    idleTimeout: role === 'client' ? 60_000 : 120_000,
    maxConcurrentStreams: 100,
    streamTimeout: 30_000,
    enableEarlyData: role === 'client',
    generateCertificate: false,
    maxMessageSize: 16 * MIB,
    enabled: true,
  };
}

function fromEnvironment(env: NodeJS.ProcessEnv): { values: Partial<Record<keyof QuicConfig, unknown>>; labels: Partial<Record<keyof QuicConfig, string>> } {
  const values: Partial<Record<keyof QuicConfig, unknown>> = {};
  const labels: Partial<Record<keyof QuicConfig, string>> = {};
  for (const [variable, field, kind] of environment) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    labels[field] = `${variable} (environment)`;
    if (kind === 'string') values[field] = raw;
    else if (kind === 'integer') {
      if (!/^\d+$/.test(raw.trim())) throw invalidArg(`${variable} must be a decimal integer, got ${JSON.stringify(raw)}`);
      values[field] = Number(raw.trim());
    } else {
      const word = raw.trim().toLowerCase();
      if (word === 'true' || word === '1') values[field] = true;
      else if (word === 'false' || word === '0') values[field] = false;
      else throw invalidArg(`${variable} must be true or false (or 1 or 0), got ${JSON.stringify(raw)}`);
    }
  }
  return { values, labels };
}

function integer(value: unknown, label: string, min: number, max: number, meaning = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArg(`${label} must be an integer from ${min} to ${max}${meaning}, got ${describeValue(value)}`);
  }
  return value;
}

function text(value: unknown, label: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArg(`${label} must be a non-empty string, got ${describeValue(value)}`);
  return value;
}

function flag(value: unknown, label: string): boolean {
  if (typeof value !== 'boolean') throw invalidArg(`${label} must be a boolean, got ${describeValue(value)}`);
  return value;
}

/**
 * `config` over the environment over agentic-flow's defaults for `role`,
 * every field checked (errors name the field or the variable).
 */
export function resolveQuicConfig(config: QuicConfig | undefined, role: Role, env: NodeJS.ProcessEnv = process.env): ResolvedQuicConfig {
  const given = (config ?? {}) as Record<string, unknown>;
  checkObject(given, 'QuicConfig');
  for (const key of Object.keys(given)) {
    if (!fields.includes(key as keyof QuicConfig)) throw invalidArg(`QuicConfig has no field ${key} (fields: ${fields.join(', ')})`);
  }
  const fromEnv = fromEnvironment(env);
  const explicit = new Set<keyof QuicConfig>();
  const base = defaults(role) as Record<string, unknown>;
  const pick = (field: keyof QuicConfig): { value: unknown; label: string } => {
    if (given[field] !== undefined) {
      explicit.add(field);
      return { value: given[field], label: field };
    }
    if (fromEnv.values[field] !== undefined) {
      explicit.add(field);
      return { value: fromEnv.values[field], label: fromEnv.labels[field]! };
    }
    return { value: base[field], label: field };
  };
  const int = (field: keyof QuicConfig, min: number, max: number, meaning = '') => {
    const { value, label } = pick(field);
    return integer(value, label, min, max, meaning);
  };
  const optionalInt = (field: keyof QuicConfig, min: number, max: number) => {
    const { value, label } = pick(field);
    return value === undefined ? undefined : integer(value, label, min, max);
  };
  const str = (field: keyof QuicConfig) => {
    const { value, label } = pick(field);
    return text(value, label);
  };
  const bool = (field: keyof QuicConfig) => {
    const { value, label } = pick(field);
    return flag(value, label);
  };
  const maxDatagramSize = optionalInt('maxDatagramSize', 1200, 65527);
  const initialCongestionWindow = optionalInt('initialCongestionWindow', 1, Math.floor(1024 * MIB / (maxDatagramSize ?? 1200)));
  const caPath = pick('caPath');
  const enabled = pick('enabled');
  const backend = pick('backend');
  if (backend.value !== undefined && backend.value !== 'native' && backend.value !== 'wasm') {
    throw invalidArg(`backend must be 'native' or 'wasm', got ${describeValue(backend.value)}`);
  }
  return {
    host: str('host'),
    port: int('port', 0, 65535, ' (0: any free port)'),
    certPath: str('certPath'),
    keyPath: str('keyPath'),
    serverHost: str('serverHost'),
    serverPort: int('serverPort', 1, 65535),
    verifyPeer: bool('verifyPeer'),
    maxConnections: int('maxConnections', 1, 1_000_000),
    connectionTimeout: int('connectionTimeout', 0, MAX_TIMER_MS, ' (0: no limit)'),
    idleTimeout: int('idleTimeout', 0, Number.MAX_SAFE_INTEGER, ' (0: never)'),
    // The core's stream limit (crates/core/src/config.rs MAX_STREAMS).
    maxConcurrentStreams: int('maxConcurrentStreams', 0, 65_536),
    streamTimeout: int('streamTimeout', 0, MAX_TIMER_MS, ' (0: no limit)'),
    initialCongestionWindow,
    maxDatagramSize,
    enableEarlyData: bool('enableEarlyData'),
    caPath: caPath.value === undefined ? undefined : text(caPath.value, caPath.label),
    generateCertificate: bool('generateCertificate'),
    maxMessageSize: int('maxMessageSize', 1024, 1024 * MIB),
    enabled: flag(enabled.value, enabled.label),
    enabledBy: enabled.label.endsWith('(environment)') ? `AGENTIC_FLOW_ENABLE_QUIC=${env.AGENTIC_FLOW_ENABLE_QUIC ?? ''}` : 'enabled: false',
    backend: backend.value,
    explicit,
  };
}

/**
 * agentic-flow's `loadQuicConfig`: the configuration `overrides` over the
 * environment over the defaults, checked. (agentic-flow let the environment
 * win over explicit values; here what the code says wins.)
 */
export function loadQuicConfig(overrides?: QuicConfig): ResolvedQuicConfig {
  return resolveQuicConfig(overrides, 'client');
}

/** Refuses to start when QUIC is disabled (`enabled: false`, `AGENTIC_FLOW_ENABLE_QUIC=false`). */
export function checkEnabled(config: ResolvedQuicConfig): void {
  if (!config.enabled) throw invalidState(`QUIC is disabled (${config.enabledBy})`);
}

/** The transport settings the configuration maps onto. */
export function transportOf(config: ResolvedQuicConfig): TransportOptions {
  return {
    idleTimeoutMs: config.idleTimeout,
    maxConcurrentBidiStreams: config.maxConcurrentStreams,
    maxConcurrentUniStreams: config.maxConcurrentStreams,
    ...(config.maxDatagramSize === undefined ? {} : { maxUdpPayloadSize: config.maxDatagramSize }),
    ...(config.initialCongestionWindow === undefined
      ? {}
      : { initialCongestionWindow: config.initialCongestionWindow * (config.maxDatagramSize ?? 1200) }),
  };
}

/** A PEM file, or an error naming the field and the path. */
export function readPemFile(path: string, field: string, hint = ''): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`;
    throw invalidArg(`${field}: ${path} ${why}${hint}`);
  }
}

/** The TLS part of connect options for a client configuration (files read now). */
export function clientTls(config: ResolvedQuicConfig): Pick<ConnectOptions, 'ca' | 'systemRoots' | 'insecureSkipVerify' | 'cert' | 'key'> {
  const tls: Pick<ConnectOptions, 'ca' | 'systemRoots' | 'insecureSkipVerify' | 'cert' | 'key'> = {};
  if (!config.verifyPeer) tls.insecureSkipVerify = true;
  else if (config.caPath !== undefined) tls.ca = readPemFile(config.caPath, 'caPath');
  else tls.systemRoots = true;
  // A client presents a certificate only when its configuration names one.
  const certGiven = config.explicit.has('certPath');
  if (certGiven !== config.explicit.has('keyPath')) throw invalidArg('certPath and keyPath: a client certificate needs both');
  if (certGiven) {
    tls.cert = readPemFile(config.certPath, 'certPath');
    tls.key = readPemFile(config.keyPath, 'keyPath');
  }
  return tls;
}

/** The names a generated certificate carries for a server bound to `host`. */
function certificateNames(host: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1'];
  if (host !== '0.0.0.0' && host !== '::' && !names.includes(host)) names.push(host);
  return names;
}

/** The TLS part of listen options for a server configuration (files read, or a certificate generated, now). */
export function serverTls(config: ResolvedQuicConfig): Pick<ListenOptions, 'cert' | 'key' | 'clientAuth'> & { cert: string } {
  let cert: string;
  let key: string;
  if (config.generateCertificate) {
    const conflicting = (['certPath', 'keyPath'] as const).filter((field) => config.explicit.has(field));
    if (conflicting.length > 0) {
      throw invalidArg(`generateCertificate and ${conflicting.join(' and ')}: either generate a certificate or read one, not both`);
    }
    ({ cert, key } = generateCertificate({ names: certificateNames(config.host), backend: config.backend }));
  } else {
    const hint = ' (set certPath/keyPath or QUIC_CERT_PATH/QUIC_KEY_PATH, or generateCertificate: true for a self-signed certificate)';
    cert = readPemFile(config.certPath, 'certPath', hint);
    key = readPemFile(config.keyPath, 'keyPath', hint);
  }
  if (!config.verifyPeer) return { cert, key };
  if (config.caPath === undefined) throw invalidArg('verifyPeer: a server that verifies clients needs caPath (the CA their certificates must chain to)');
  return { cert, key, clientAuth: { ca: readPemFile(config.caPath, 'caPath'), required: true } };
}
