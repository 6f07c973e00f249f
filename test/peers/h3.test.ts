/**
 * HTTP/3 between the independent peers: each server (ngtcp2's gtlsserver,
 * quic-go's http3, aioquic's http3_server example) serves a 3 MB file and
 * each client GETs it to disk; the SHA-256 must match. This proves the
 * command lines documented in scripts/install-peers.sh before quicbridge's
 * HTTP/3 is tested against them. Peers not installed are skipped with the
 * reason from the install script.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { createPki } from '../helpers/certs';
import { H3_PEERS, h3 } from './h3';

const dir = mkdtempSync(join(tmpdir(), 'quicbridge-h3-'));
const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), www: join(dir, 'www') };
const body = randomBytes(3_000_000);
const sha256 = createHash('sha256').update(body).digest('hex');

test.before(async () => {
  const pki = await createPki();
  writeFileSync(files.ca, pki.ca.certPem);
  writeFileSync(files.cert, pki.server.chainPem);
  writeFileSync(files.key, pki.server.keyPem);
  mkdirSync(files.www);
  writeFileSync(join(files.www, 'blob.bin'), body);
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

for (const serverName of H3_PEERS) {
  for (const clientName of H3_PEERS) {
    const title = `HTTP/3 GET 3 MB: ${clientName} client -> ${serverName} server`;
    const missing = [h3[serverName].status(), h3[clientName].status()].find((s) => !s.ok);
    if (missing) {
      test.skip(`${title} [skipped: ${missing.peer}: ${missing.reason ?? 'not installed'}]`, () => undefined);
      continue;
    }
    test.serial(title, async (t) => {
      const server = await h3[serverName].serve({ dir: files.www, cert: files.cert, key: files.key });
      try {
        const outDir = mkdtempSync(join(dir, 'dl-'));
        const r = await h3[clientName].get({ url: `https://localhost:${server.port}/blob.bin`, ca: files.ca, outDir, timeoutMs: 30_000 });
        t.log(r.ok ? `${r.bytes} bytes, sha256 ${r.sha256?.slice(0, 16)}…` : `failed: ${r.error}`);
        t.true(r.ok, r.error);
        t.is(r.bytes, body.length);
        t.is(r.sha256, sha256);
      } finally {
        await server.stop();
      }
    });
  }
}
