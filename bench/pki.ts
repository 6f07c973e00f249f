import fs from 'node:fs';
import path from 'node:path';

import { createPki } from '../test/helpers/certs';

/** The run's certificates: a fresh CA and a localhost/127.0.0.1 server certificate from it. */
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

/** Makes the certificates and writes them into `dir` for the child processes. */
export async function writePki(dir: string): Promise<PkiFiles> {
  const { ca, server } = await createPki();
  const files = pkiFiles(dir);
  fs.writeFileSync(files.ca, ca.certPem);
  fs.writeFileSync(files.chain, server.chainPem);
  fs.writeFileSync(files.key, server.keyPem, { mode: 0o600 });
  return files;
}

export function readPki(dir: string): BenchPki {
  const files = pkiFiles(dir);
  return {
    ca: fs.readFileSync(files.ca, 'utf8'),
    chain: fs.readFileSync(files.chain, 'utf8'),
    key: fs.readFileSync(files.key, 'utf8'),
  };
}
