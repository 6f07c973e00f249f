import fs from 'node:fs';

import { createPki } from '../test/helpers/certs';
import { type PkiFiles, pkiFiles } from './pki';

/** Makes the run's certificates and writes them into `dir` for the child processes. */
export async function writePki(dir: string): Promise<PkiFiles> {
  const { ca, server } = await createPki();
  const files = pkiFiles(dir);
  fs.writeFileSync(files.ca, ca.certPem);
  fs.writeFileSync(files.chain, server.chainPem);
  fs.writeFileSync(files.key, server.keyPem, { mode: 0o600 });
  return files;
}
