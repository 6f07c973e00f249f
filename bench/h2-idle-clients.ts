/**
 * The client half of idle-memory for node-http2: one process holding HTTP/2
 * sessions (TLS over TCP) to the server on 127.0.0.1:<port>.
 * `node --import tsx bench/h2-idle-clients.ts <port> <pki-dir>`
 * `connect N` opens sessions until N are held (printing `{"connecting":n}`
 * every second meanwhile) and answers `{"connected":n,"failed":f}`; `drop`
 * closes them all (`{"dropped":n}`); exits on `quit`.
 */

import http2 from 'node:http2';
import readline from 'node:readline';

import { SERVER_NAME } from './config';
import { readPki } from './pki';
import { errorMessage, inParallel } from './workloads/common';

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function main(): Promise<void> {
  const [port, pkiDir] = process.argv.slice(2) as [string, string];
  const { ca } = readPki(pkiDir);
  const sessions: http2.ClientHttp2Session[] = [];
  let failed = 0;
  const open = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const session = http2.connect(`https://127.0.0.1:${port}`, { ca, servername: SERVER_NAME });
      session.once('connect', () => {
        sessions.push(session);
        resolve();
      });
      session.once('error', () => {
        failed += 1;
        resolve();
      });
    });
  print({ ready: true });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [command, n] = line.trim().split(/\s+/);
    if (command === 'connect' && n !== undefined) {
      const missing = Math.max(0, Number(n) - sessions.length);
      const ticker = setInterval(() => print({ connecting: sessions.length }), 1000);
      await inParallel(missing, 32, open);
      clearInterval(ticker);
      print({ connected: sessions.length, failed });
    } else if (command === 'drop') {
      const dropped = sessions.splice(0);
      for (const session of dropped) session.close();
      print({ dropped: dropped.length });
    } else if (command === 'quit') {
      break;
    } else {
      print({ error: `unknown command ${JSON.stringify(line)}` });
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    print({ error: errorMessage(error) });
    process.exit(1);
  },
);
