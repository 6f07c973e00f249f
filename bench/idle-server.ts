/**
 * The measured half of idle-memory for a Node peer: a server, alone in its
 * process, that holds the connections made to it.
 * `node --expose-gc --import tsx bench/idle-server.ts <peer> <pki-dir> <max-connections>`
 * Prints `{"ready":true,"port":P}`; answers `measure` (after full garbage
 * collection) with `{"connections":n,"rss":bytes}`; exits on `quit`.
 */

import readline from 'node:readline';

import type { JsPeerName } from './config';
import { makePeer } from './peers/index';
import { readPki } from './pki';
import { collectGarbage, errorMessage } from './workloads/common';

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function main(): Promise<void> {
  const [peerName, pkiDir, max] = process.argv.slice(2) as [JsPeerName, string, string];
  const peer = await makePeer(peerName, readPki(pkiDir));
  const server = await peer.listen({ maxConnections: Number(max) });
  print({ ready: true, port: server.port });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const command = line.trim();
    if (command === 'measure') {
      await collectGarbage();
      print({ connections: server.connections(), rss: process.memoryUsage().rss });
    } else if (command === 'quit') {
      break;
    } else {
      print({ error: `unknown command ${JSON.stringify(command)}` });
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
