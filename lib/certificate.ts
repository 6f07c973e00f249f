import { X509Certificate } from 'node:crypto';

import type { BackendName } from './backend';
import { callBinding, invalidArg } from './errors';
import { loadBackend } from './loader';
import { checkInteger, describeValue } from './options';

export interface GenerateCertificateOptions {
  /** DNS names and IP addresses the certificate is for (default localhost, 127.0.0.1, ::1). */
  names?: string[];
  /** Days it stays valid (default 30; it is also valid from a day ago). */
  validDays?: number;
  backend?: BackendName;
}

export interface GeneratedCertificate {
  /** PEM certificate (self-signed: it is its own CA). */
  cert: string;
  /** PEM private key (PKCS#8, ECDSA P-256). */
  key: string;
  /** SHA-256 fingerprint, colon-separated hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint256: string;
}

/**
 * A fresh key and self-signed certificate, for development servers and
 * tools. Nothing in quicbridge generates one unless asked: a server without
 * a certificate is an error, not a silent self-signed one. A client trusts
 * it by passing `cert` as its `ca` (or by checking `fingerprint256`).
 */
export function generateCertificate(options: GenerateCertificateOptions = {}): GeneratedCertificate {
  if (typeof options !== 'object' || options === null) throw invalidArg(`options must be an object, got ${describeValue(options)}`);
  const names = options.names ?? ['localhost', '127.0.0.1', '::1'];
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    throw invalidArg(`names must be a non-empty array of strings, got ${describeValue(names)}`);
  }
  const validDays = checkInteger(options.validDays ?? 30, 'validDays', 1, 3650);
  const backend = loadBackend(options.backend);
  const json = callBinding(() => backend.generateCertificate(JSON.stringify({ names, now: Math.floor(Date.now() / 1000), validDays })));
  const { cert, key } = JSON.parse(json) as { cert: string; key: string };
  return { cert, key, fingerprint256: new X509Certificate(cert).fingerprint256 };
}
