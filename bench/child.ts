/**
 * One workload for one Node peer, in a process of its own (the harness
 * starts it): `node --import tsx bench/child.ts <workload> <peer> <params.json> <pki-dir>`.
 * Prints JSON lines: progress, then `{"results": [...]}` (or `{"error": "..."}`).
 */

import fs from 'node:fs';

import { type JsPeerName, type Params, type WorkloadName } from './config';
import { makePeer } from './peers/index';
import { readPki } from './pki';
import { Report } from './results';
import { errorMessage, stdoutProgress } from './workloads/common';
import { churn } from './workloads/churn';
import { bulk, concurrency, datagrams, handshake, rr } from './workloads/timed';

const workloads = { bulk, rr, concurrency, handshake, datagrams, 'churn-memory': churn } as const;

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function main(): Promise<void> {
  const [workload, peerName, paramsFile, pkiDir] = process.argv.slice(2) as [WorkloadName, JsPeerName, string, string];
  if (!(workload in workloads)) throw new Error(`no in-process workload ${workload}`);
  const params = JSON.parse(fs.readFileSync(paramsFile, 'utf8')) as Params;
  const peer = await makePeer(peerName, readPki(pkiDir));
  const report = new Report();
  await workloads[workload as keyof typeof workloads](peer, params, report, stdoutProgress);
  print({ results: report.entries });
}

main().then(
  // Handles a peer left behind (sockets, timers) must not keep the process alive.
  () => process.exit(0),
  (error: unknown) => {
    print({ error: errorMessage(error) });
    process.exit(0);
  },
);
