import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import test from 'ava';

import { QuicClient, QuicServer, WasmQuicClient, type ConnectionConfig, type QuicConfig } from '../../lib/agentic-flow/index';
import { serverBackend } from '../helpers/backend';
import { createPki, type TestCa, type TestLeaf } from '../helpers/certs';

export { readAll, sha256 } from '../helpers/echo';

/** A CA and a localhost certificate from it, as files (what the agentic-flow config takes). */
export interface PkiFiles {
  dir: string;
  ca: TestCa;
  leaf: TestLeaf;
  caPath: string;
  certPath: string;
  keyPath: string;
}

const dirs: string[] = [];
const servers = new Set<QuicServer>();
const closers = new Set<{ close(): Promise<void> } | { shutdown(): Promise<void> }>();

test.after.always('stop what the tests left running', async () => {
  await Promise.allSettled([...closers].map((c) => ('close' in c ? c.close() : c.shutdown())));
  await Promise.allSettled([...servers].map((s) => s.stop()));
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

export async function pkiFiles(): Promise<PkiFiles> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quicbridge-agentic-'));
  dirs.push(dir);
  const { ca, server: leaf } = await createPki();
  const files = { caPath: path.join(dir, 'ca.pem'), certPath: path.join(dir, 'cert.pem'), keyPath: path.join(dir, 'key.pem') };
  fs.writeFileSync(files.caPath, ca.certPem);
  fs.writeFileSync(files.certPath, leaf.chainPem);
  fs.writeFileSync(files.keyPath, leaf.keyPem);
  return { dir, ca, leaf, ...files };
}

export function tempFile(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quicbridge-agentic-'));
  dirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** A QuicServer on 127.0.0.1 (a free port), on the suite's server backend, initialized and listening. */
export async function startServer(config: QuicConfig = {}, pki?: PkiFiles): Promise<{ server: QuicServer; port: number; addr: string; pki: PkiFiles }> {
  const files = pki ?? (await pkiFiles());
  const server = new QuicServer({ host: '127.0.0.1', port: 0, certPath: files.certPath, keyPath: files.keyPath, backend: serverBackend(), ...config });
  servers.add(server);
  await server.initialize();
  await server.listen();
  const { port } = server.address;
  return { server, port, addr: `127.0.0.1:${port}`, pki: files };
}

/** A QuicClient for `port` on 127.0.0.1, trusting `pki`'s CA, initialized (the suite's client backend). */
export async function startClient(port: number, pki: PkiFiles, config: QuicConfig = {}): Promise<QuicClient> {
  const client = new QuicClient({ serverHost: '127.0.0.1', serverPort: port, caPath: pki.caPath, ...config });
  closers.add(client);
  await client.initialize();
  return client;
}

export function messageClient(pki: PkiFiles, config: Partial<ConnectionConfig> = {}): WasmQuicClient {
  const client = new WasmQuicClient({ ca_path: pki.caPath, ...config });
  closers.add(client);
  return client;
}

/** Resolves once `count()` reaches `target` (polled; no assertion about how long it takes). */
export async function until(count: () => number | boolean | Promise<number | boolean>, target: number | true = true, what = 'condition'): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const value = await count();
    if (target === true ? value === true : typeof value === 'number' && value >= target) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}
