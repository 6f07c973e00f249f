import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Params, RustPeerName, WorkloadName } from './config';
import type { PkiFiles } from './pki';

/**
 * The quinn-rust peer: crates/bench built in release mode
 * (`cargo build --release -p quicbridge-bench`, which scripts/bench.sh does).
 * QUICBRIDGE_BENCH_BIN overrides where it is looked for.
 */
export function rustBinary(): string {
  return process.env.QUICBRIDGE_BENCH_BIN ?? path.join(cargoTargetDir(), 'release', 'quicbridge-bench');
}

/** Where cargo builds, as scripts/toolchain.sh decides it. */
export function cargoTargetDir(): string {
  const cache = process.env.QUICBRIDGE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'quicbridge');
  return process.env.CARGO_TARGET_DIR ?? path.join(cache, 'target');
}

/** Why the binary cannot be used, if it cannot. */
export function rustBinaryProblem(file: string): string | undefined {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return undefined;
  } catch {
    return `${file} is not built: run \`npm run bench\` (scripts/bench.sh builds it) or \`cargo build --release -p quicbridge-bench\``;
  }
}

/** The options every run of the binary takes: the PKI and which tokio runtime. */
export function commonArgs(peer: RustPeerName, pki: PkiFiles): string[] {
  const runtime = peer === 'quinn-rust-1thread' ? 'current-thread' : 'multi-thread';
  return ['--cert', pki.chain, '--key', pki.key, '--ca', pki.ca, '--runtime', runtime];
}

/** The command line for one workload (not idle-memory, which is driven separately). */
export function rustArgs(peer: RustPeerName, workload: Exclude<WorkloadName, 'idle-memory'>, params: Params, pki: PkiFiles): string[] {
  const options = (o: Record<string, number>): string[] => Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const common = commonArgs(peer, pki);
  switch (workload) {
    case 'bulk': {
      const { bytes, warmupBytes, samples, warmup } = params.bulk;
      return [workload, ...common, ...options({ bytes, 'warmup-bytes': warmupBytes, samples, warmup })];
    }
    case 'rr': {
      const { requests, samples, warmup } = params.rr;
      return [workload, ...common, ...options({ requests, samples, warmup })];
    }
    case 'concurrency': {
      const { streams, requests, samples, warmup } = params.concurrency;
      return [workload, ...common, ...options({ streams, requests, samples, warmup })];
    }
    case 'handshake': {
      const { connections, parallel, samples, warmup } = params.handshake;
      return [workload, ...common, ...options({ connections, parallel, samples, warmup })];
    }
    case 'datagrams': {
      const { size, durationMs, samples, warmup } = params.datagrams;
      return [workload, ...common, ...options({ size, 'duration-ms': durationMs, samples, warmup })];
    }
    case 'churn-memory': {
      const { small, large, parallel } = params.churn;
      return [workload, ...common, ...options({ small, large, parallel })];
    }
  }
}
