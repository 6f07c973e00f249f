/**
 * Runs in a worker thread (see worker-thread.test.ts): connects to the
 * server named in workerData, echoes `bytes` random bytes on one stream,
 * posts both hashes, closes, and lets the thread end. (Not through
 * echo.ts: that registers ava hooks, and only ava's own workers run them.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

import { connect } from '../../lib/index';

interface EchoJob {
  port: number;
  ca: string;
  bytes: number;
}

async function run({ port, ca, bytes }: EchoJob): Promise<void> {
  const connection = await connect({ host: '127.0.0.1', port, servername: 'localhost', ca, alpn: 'echo' });
  const data = randomBytes(bytes);
  const stream = await connection.openStream();
  stream.end(data);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const echoed = Buffer.concat(chunks);
  await connection.close(0, 'worker done');
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  parentPort?.postMessage({ sent: sha256(data), echoed: sha256(echoed), length: echoed.length });
}

run(workerData as EchoJob).catch((error: unknown) => {
  parentPort?.postMessage({ error: String(error) });
});
