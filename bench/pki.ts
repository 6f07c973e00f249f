import fs from 'node:fs';
import path from 'node:path';

/**
 * The run's certificates: a fresh CA and a localhost/127.0.0.1 server
 * certificate from it, made by the harness (make-pki.ts) and read here by the
 * children, which may run in Bun or Deno and so load nothing more than this.
 */
export interface BenchPki {
  /** PEM of the CA certificate clients trust. */
  ca: string;
  /** PEM chain the server presents (leaf, then CA). */
  chain: string;
  /** PEM (PKCS#8) key of the leaf. */
  key: string;
}

export interface PkiFiles {
  ca: string;
  chain: string;
  key: string;
}

export function pkiFiles(dir: string): PkiFiles {
  return { ca: path.join(dir, 'ca.pem'), chain: path.join(dir, 'chain.pem'), key: path.join(dir, 'key.pem') };
}

export function readPki(dir: string): BenchPki {
  const files = pkiFiles(dir);
  return {
    ca: fs.readFileSync(files.ca, 'utf8'),
    chain: fs.readFileSync(files.chain, 'utf8'),
    key: fs.readFileSync(files.key, 'utf8'),
  };
}
