import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

import type { BackendName } from '../backend';
import { generateCertificate } from '../certificate';
import type { ConnectOptions } from '../options';
import { UsageError } from './exit-codes';

type Options = NonNullable<ParseArgsConfig['options']>;

export const backendOption: Options = { backend: { type: 'string' } };
export const helpOption: Options = { help: { type: 'boolean', short: 'h' } };
export const trustOptions: Options = {
  timeout: { type: 'string' },
  ca: { type: 'string' },
  fingerprint: { type: 'string' },
  insecure: { type: 'boolean' },
  servername: { type: 'string' },
};
export const serverCertOptions: Options = {
  cert: { type: 'string' },
  key: { type: 'string' },
  'cert-out': { type: 'string' },
  address: { type: 'string' },
  port: { type: 'string' },
  json: { type: 'boolean' },
};

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: Options, maxPositionals: number): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, ...helpOption, ...backendOption }, allowPositionals: true, strict: true }) as Parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument: ${parsed.positionals[maxPositionals]}`);
  return parsed;
}

export function backendOf(values: Parsed['values']): BackendName | undefined {
  const backend = values.backend;
  if (backend === undefined) return undefined;
  if (backend !== 'native' && backend !== 'wasm') throw new UsageError(`--backend must be native or wasm, got ${JSON.stringify(backend)}`);
  return backend;
}

export function portOf(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0 to 65535, got ${JSON.stringify(value)}`);
  return port;
}

function readPem(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

/** The server's certificate: the given files, or a fresh self-signed one for localhost (said so, with its fingerprint). */
export function serverCertificate(values: Parsed['values'], backend: BackendName | undefined): { cert: string; key: string; fingerprint256?: string } {
  if (values.cert !== undefined || values.key !== undefined) {
    if (typeof values.cert !== 'string' || typeof values.key !== 'string') throw new UsageError('--cert and --key go together');
    return { cert: readPem(values.cert, 'certificate'), key: readPem(values.key, 'key') };
  }
  const generated = generateCertificate({ backend });
  if (typeof values['cert-out'] === 'string') fs.writeFileSync(values['cert-out'], generated.cert);
  return generated;
}

/** How a client trusts the server: --ca PEM, --fingerprint (pinned SHA-256) or --insecure. */
export function trustOf(values: Parsed['values']): { connect: Pick<ConnectOptions, 'ca' | 'insecureSkipVerify' | 'pinnedSha256' | 'servername'> } {
  const chosen = ['ca', 'fingerprint', 'insecure'].filter((name) => values[name] !== undefined);
  if (chosen.length === 0) throw new UsageError('say how to trust the server: --ca FILE, --fingerprint SHA256 (as `serve` prints it) or --insecure');
  if (chosen.length > 1) throw new UsageError(`--${chosen.join(' and --')} do not go together`);
  const servername = typeof values.servername === 'string' ? values.servername : undefined;
  if (typeof values.ca === 'string') return { connect: { ca: readPem(values.ca, 'CA certificate'), servername } };
  if (typeof values.fingerprint === 'string') {
    const pin = values.fingerprint.toUpperCase().replace(/[^0-9A-F]/g, '');
    if (pin.length !== 64) throw new UsageError('--fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed)');
    return { connect: { pinnedSha256: pin, servername } };
  }
  process.stderr.write('quicbridge: --insecure: the server certificate is NOT verified\n');
  return { connect: { insecureSkipVerify: true, servername } };
}

/** host:port, [v6]:port or a bare host with a default port. */
export function hostPort(value: string | undefined, defaultPort?: number): { host: string; port: number } {
  if (!value) throw new UsageError('a HOST:PORT is needed');
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ?? /^([^:]+)(?::(\d+))?$/.exec(value);
  const port = match?.[2] !== undefined ? Number(match[2]) : defaultPort;
  if (!match?.[1] || port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`not a HOST:PORT: ${value}`);
  }
  return { host: match[1], port };
}

export function listening(kind: string, address: { address: string; port: number }, backend: string, fingerprint256: string | undefined, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ listening: kind, ...address, backend, fingerprint256 }));
    return;
  }
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  console.log(`quicbridge ${kind} listening on udp ${host}:${address.port} (${backend} backend)`);
  if (fingerprint256) console.log(`self-signed certificate for localhost; SHA-256 fingerprint ${fingerprint256}`);
}

/** Resolves when the process is asked to stop (Ctrl-C, SIGTERM). */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** The handshake's time limit (--timeout SECONDS, default 10): an unreachable peer is exit status 4, not a hang. */
export function handshakeSignal(values: Parsed['values']): AbortSignal {
  const seconds = values.timeout === undefined ? 10 : Number(values.timeout);
  if (!(seconds > 0 && seconds <= 3600)) throw new UsageError(`--timeout must be 0 to 3600 seconds, got ${JSON.stringify(values.timeout)}`);
  return AbortSignal.timeout(seconds * 1000);
}
