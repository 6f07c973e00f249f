/**
 * quicbridge's HTTP/3 against independently written stacks: our client
 * GETs a 3 MB file from ngtcp2's gtlsserver, aioquic's http3_server.py
 * example and quic-go's http3 server; their clients (gtlsclient,
 * http3_client.py, quic-go) GET it from our server. SHA-256 must match.
 * Runs on the backend QUICBRIDGE_BACKEND names; peers that
 * scripts/install-peers.sh could not install are skipped with its reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { Http3Client, listenHttp3, type QuicServer } from '../../lib/index';
import { suiteBackend } from '../helpers/backend';
import { createPki } from '../helpers/certs';
import { H3_PEERS, h3 } from '../peers/h3';

const backend = suiteBackend();
const dir = mkdtempSync(join(tmpdir(), 'quicbridge-h3-interop-'));
const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'chain.pem'), key: join(dir, 'key.pem'), www: join(dir, 'www') };
const body = randomBytes(3_000_000);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

let server: QuicServer;

test.before(async () => {
  const pki = await createPki();
  writeFileSync(files.ca, pki.ca.certPem);
  writeFileSync(files.cert, pki.server.chainPem);
  writeFileSync(files.key, pki.server.keyPem);
  mkdirSync(files.www);
  writeFileSync(join(files.www, 'blob.bin'), body);
  // A static file server on quicbridge, for the peers' clients.
  server = await listenHttp3({ address: '127.0.0.1', cert: pki.server.chainPem, key: pki.server.keyPem, backend }, async (request, response) => {
    const name = new URL(request.path, 'https://x').pathname.slice(1);
    if (request.method !== 'GET' || name.includes('/') || name === '') {
      await response.respond(404);
      response.end();
      return;
    }
    let data: Buffer;
    try {
      data = readFileSync(join(files.www, name));
    } catch {
      await response.respond(404);
      response.end();
      return;
    }
    await response.respond(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) });
    response.end(data);
  });
});

test.after.always(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

for (const peer of H3_PEERS) {
  const status = h3[peer].status();
  const skipReason = status.ok ? undefined : `${status.peer}: ${status.reason ?? 'not installed'}`;

  const clientTitle = `quicbridge ${backend} client GETs 3 MB from ${peer}'s HTTP/3 server`;
  if (skipReason) test.skip(`${clientTitle} [skipped: ${skipReason}]`, () => undefined);
  else
    test.serial(clientTitle, async (t) => {
      const peerServer = await h3[peer].serve({ dir: files.www, cert: files.cert, key: files.key });
      try {
        const client = await Http3Client.connect({ host: '127.0.0.1', port: peerServer.port, servername: 'localhost', ca: readFileSync(files.ca, 'utf8') });
        const response = await client.request(`https://localhost:${peerServer.port}/blob.bin`);
        t.is(response.status, 200);
        const received = await response.bytes();
        t.is(received.length, body.length);
        t.is(sha256(received), sha256(body));
        await client.close();
      } finally {
        await peerServer.stop();
      }
    });

  const serverTitle = `${peer}'s HTTP/3 client GETs 3 MB from a quicbridge ${backend} server`;
  if (skipReason) test.skip(`${serverTitle} [skipped: ${skipReason}]`, () => undefined);
  else
    test.serial(serverTitle, async (t) => {
      const outDir = mkdtempSync(join(dir, 'dl-'));
      const result = await h3[peer].get({ url: `https://localhost:${server.address.port}/blob.bin`, ca: files.ca, outDir, timeoutMs: 60_000 });
      t.true(result.ok, result.error);
      t.is(result.bytes, body.length);
      t.is(result.sha256, sha256(body));
    });
}
