import { Worker } from 'node:worker_threads';

import test from 'ava';

import { connect } from '../../lib/index';
import { createPki } from '../helpers/certs';
import { readAll, sha256, startEchoServer } from '../helpers/echo';

interface EchoReport {
  sent?: string;
  echoed?: string;
  length?: number;
  error?: string;
}

/** One worker thread's echo, and how the thread ended. */
function echoInWorker(port: number, ca: string, bytes: number): Promise<{ report: EchoReport; exitCode: number }> {
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(require.resolve('../helpers/worker-echo'))});`, {
    eval: true,
    workerData: { port, ca, bytes },
  });
  let report: EchoReport = { error: 'the worker posted nothing' };
  worker.on('message', (message: EchoReport) => (report = message));
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', (exitCode) => resolve({ report, exitCode }));
  });
}

test('worker threads each load the backend, echo byte-exact and exit cleanly; the main thread goes on working', async (t) => {
  const { ca, server: leaf } = await createPki();
  const server = await startEchoServer(leaf);
  try {
    for (let round = 0; round < 2; round++) {
      const { report, exitCode } = await echoInWorker(server.address.port, ca.certPem, 1 << 20);
      t.is(report.error, undefined, `round ${round}`);
      t.is(report.length, 1 << 20, `round ${round}`);
      t.is(report.echoed, report.sent, `round ${round}`);
      t.is(exitCode, 0, `round ${round}: the worker's thread ended normally`);
    }
    const connection = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: ca.certPem, alpn: 'echo' });
    const stream = await connection.openStream();
    const received = readAll(stream);
    stream.end(Buffer.from('after the workers'));
    t.is(sha256(await received), sha256(Buffer.from('after the workers')));
    await connection.close();
  } finally {
    await server.close();
  }
});
