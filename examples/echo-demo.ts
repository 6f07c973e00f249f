// The main job for now: a QUIC echo between a native-backend server and a
// wasm-backend client in one process, printing what happened.
//   npm run demo
import { createHash, randomBytes } from 'node:crypto';

import { connect, listen, type QuicStream } from '../lib/index';
import { createPki } from '../test/helpers/certs';

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

async function readAll(stream: QuicStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(): Promise<void> {
  const { ca, server: leaf } = await createPki();
  const server = await listen(
    { backend: 'native', address: '127.0.0.1', port: 0, cert: leaf.chainPem, key: leaf.keyPem, alpn: 'echo' },
    async (connection) => {
      for await (const stream of connection.streams()) stream.pipe(stream);
    },
  );
  const { port } = server.address;
  console.log(`server: ${server.backend} backend, listening on udp 127.0.0.1:${port}`);

  const started = process.hrtime.bigint();
  const client = await connect({ backend: 'wasm', host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
  const handshakeMs = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`client: ${client.backend} backend, TLS 1.3 handshake verified against the test CA in ${handshakeMs.toFixed(1)} ms, ALPN "${client.alpn}"`);

  const payload = randomBytes(4 * 1024 * 1024);
  const sendStarted = process.hrtime.bigint();
  const stream = await client.openStream();
  const echoed = readAll(stream);
  stream.end(payload);
  const back = await echoed;
  const echoMs = Number(process.hrtime.bigint() - sendStarted) / 1e6;
  const ok = back.equals(payload);
  console.log(
    `echo:   sent ${payload.length} bytes (sha256 ${sha256(payload)}…) on stream ${stream.id}, ` +
      `got ${back.length} back (sha256 ${sha256(back)}…) in ${echoMs.toFixed(0)} ms: ${ok ? 'identical' : 'DIFFERENT'}`,
  );

  const closed = await client.close(0, 'demo done');
  console.log(`close:  client closed with code ${closed.code} "${closed.reason}"`);
  await server.close();
  console.log('server: closed');
  if (!ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
