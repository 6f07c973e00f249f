/**
 * quicbridge's benchmark: the same workloads over quicbridge (native and
 * wasm backends), quinn in Rust, Node's http2, @matrixai/quic and the QUIC
 * built into Bun and Deno, in one run.
 *
 *   npm run bench -- [--quick] [--only names] [--json FILE] [--svg FILE]
 *
 * `npm run bench` (scripts/bench.sh) builds the release native addon and the
 * Rust peer first. What each workload measures: docs/performance.md.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { BackendStatus } from '../lib/index';
import {
  FULL,
  isRustPeer,
  metricsOf,
  type JsPeerName,
  type Params,
  type PeerName,
  PEERS,
  QUICK,
  type WorkloadName,
  WORKLOADS,
} from './config';
import { machineInfo, nativeProfile } from './machine';
import { writePki } from './make-pki';
import { type PkiFiles } from './pki';
import { ProgressDisplay } from './progress';
import { markdown } from './report';
import { type Measured, Report, type ResultEntry, type RunResults } from './results';
import { cargoTargetDir, rustArgs, rustBinary, rustBinaryProblem } from './rust';
import { peerCommand, runtimeProblem, runtimeVersions } from './runtimes';
import { LineProcess, nodeArgs, type Outcome, runMeasuring } from './spawn';
import { median, spread } from './stats';
import { svgChart } from './svg';
import { errorMessage } from './workloads/common';
import { idleMemory } from './workloads/idle';

const USAGE = `usage: npm run bench -- [options]
  --quick          small sizes and few samples (a smoke test, about a minute or two)
  --only a,b,...   only these workloads and/or peers
                   workloads: ${WORKLOADS.join(', ')}
                   peers: ${PEERS.join(', ')}
  --json FILE      write every result (with samples) as JSON
  --svg FILE       write a chart of the headline ratios
  --help`;

interface Options {
  quick: boolean;
  workloads: WorkloadName[];
  peers: PeerName[];
  json?: string;
  svg?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, workloads: [...WORKLOADS], peers: [...PEERS] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    switch (arg) {
      case '--quick':
        options.quick = true;
        break;
      case '--json':
        options.json = value();
        break;
      case '--svg':
        options.svg = value();
        break;
      case '--only': {
        const names = value()
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean);
        const unknown = names.filter((n) => !(WORKLOADS as readonly string[]).includes(n) && !(PEERS as readonly string[]).includes(n));
        if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(', ')}\n${USAGE}`);
        const workloads = WORKLOADS.filter((w) => names.includes(w));
        const peers = PEERS.filter((p) => names.includes(p));
        if (workloads.length > 0) options.workloads = workloads;
        if (peers.length > 0) options.peers = peers;
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return options;
}

interface Probe {
  backends: BackendStatus[];
  matrixai: string | null;
}

/**
 * Which backends load here (and from where) and whether @matrixai/quic
 * does, asked of a child process: the harness itself loads no native addon,
 * whose teardown at exit it would then share.
 */
async function probe(): Promise<Probe> {
  const child = new LineProcess(process.execPath, nodeArgs('bench/probe.ts', [], { plain: true }));
  try {
    return await child.next(
      (line) => {
        if (typeof line !== 'object' || line === null) return undefined;
        const value = line as Partial<Probe> & { error?: string };
        if (typeof value.error === 'string') throw new Error(`probing the peers: ${value.error}`);
        return Array.isArray(value.backends) ? (value as Probe) : undefined;
      },
      60_000,
      'probing the peers',
    );
  } finally {
    await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    await child.stop();
  }
}

/** Why a peer cannot run at all here, if it cannot. */
function unavailable(peers: readonly PeerName[], probed: Probe, rustBin: string): Map<PeerName, string> {
  const reasons = new Map<PeerName, string>();
  for (const backend of probed.backends) {
    if (!backend.loaded && peers.includes(backend.name)) {
      reasons.set(backend.name, `the ${backend.name} backend does not load: ${backend.error ?? 'no reason given'}`);
    }
  }
  const rust = rustBinaryProblem(rustBin);
  for (const peer of peers) if (rust && isRustPeer(peer)) reasons.set(peer, rust);
  if (probed.matrixai !== null && peers.includes('matrixai-quic')) {
    reasons.set('matrixai-quic', `@matrixai/quic does not load: ${probed.matrixai}`);
  }
  for (const peer of peers) {
    const problem = isRustPeer(peer) ? undefined : runtimeProblem(peer);
    if (problem) reasons.set(peer, problem);
  }
  return reasons;
}

/** Turns what a measuring process reported into result entries, one per expected metric. */
function entries(workload: WorkloadName, peer: PeerName, outcome: Outcome, params: Params): ResultEntry[] {
  return metricsOf(workload, params).map((spec): ResultEntry => {
    const base = { workload, peer, metric: spec.metric, unit: spec.unit, better: spec.better };
    if ('error' in outcome) return { ...base, value: null, samples: [], reason: outcome.error };
    const measured: Measured | undefined = outcome.results.find((r) => r.metric === spec.metric);
    if (!measured) return { ...base, value: null, samples: [], reason: 'not reported by the measuring process' };
    if ('na' in measured) return { ...base, value: null, samples: [], reason: measured.na };
    if (measured.samples.length === 0) return { ...base, value: null, samples: [], reason: 'no samples were taken' };
    return {
      ...base,
      value: median(measured.samples),
      samples: measured.samples,
      spread: spread(measured.samples),
      ...(measured.note ? { note: measured.note } : {}),
    };
  });
}

function summary(cells: readonly ResultEntry[]): string {
  return cells
    .map((c) => (c.value === null ? `${c.metric} n/a` : `${c.metric} ${c.value.toPrecision(3)} ${c.unit}`))
    .join(', ');
}

async function runCell(
  workload: WorkloadName,
  peer: PeerName,
  ctx: { params: Params; paramsFile: string; dir: string; pki: PkiFiles; rustBin: string; onProgress: (m: string) => void },
): Promise<Outcome> {
  const { params, paramsFile, dir, pki, rustBin, onProgress } = ctx;
  if (workload === 'idle-memory') {
    const report = new Report();
    await idleMemory(peer, params, dir, pki, rustBin, report, onProgress);
    return { results: report.entries };
  }
  if (isRustPeer(peer)) {
    return runMeasuring(rustBin, rustArgs(peer, workload, params, pki), params.childTimeoutMs, onProgress);
  }
  const { command, args } = peerCommand(peer satisfies JsPeerName, 'bench/child.ts', [workload, peer, paramsFile, dir], {
    exposeGc: workload === 'churn-memory',
    readDir: dir,
  });
  return runMeasuring(command, args, params.childTimeoutMs, onProgress);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const params = options.quick ? QUICK : FULL;
  const rustBin = rustBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quicbridge-bench-'));
  try {
    const pki = await writePki(dir);
    const paramsFile = path.join(dir, 'params.json');
    fs.writeFileSync(paramsFile, JSON.stringify(params));

    const probed = await probe();
    const missing = unavailable(options.peers, probed, rustBin);
    const native = probed.backends.find((b) => b.name === 'native');
    const profile = nativeProfile(native?.path, cargoTargetDir());
    const display = new ProgressDisplay(options.workloads.length * options.peers.length);
    if (options.peers.includes('native') && profile !== 'release') {
      display.note(
        `warning: the native addon (${native?.path ?? 'not loaded'}) is not known to be a release build (${profile}); ` +
          'run `npm run bench`, which builds one',
      );
    }
    const run: RunResults = {
      date: new Date().toISOString(),
      command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
      quick: options.quick,
      params,
      machine: machineInfo({
        nativeAddon: native?.path ?? null,
        nativeProfile: profile,
        rustBinary: rustBin,
        ...runtimeVersions(),
      }),
      results: [],
    };
    for (const workload of options.workloads) {
      for (const peer of options.peers) {
        display.start(`${workload} · ${peer}`);
        let outcome: Outcome;
        const reason = missing.get(peer);
        const rustProblem = rustBinaryProblem(rustBin);
        if (reason) {
          outcome = { error: reason };
        } else if (workload === 'idle-memory' && peer !== 'node-http2' && rustProblem) {
          outcome = { error: `its clients are the quinn-rust binary: ${rustProblem}` };
        } else {
          try {
            outcome = await runCell(workload, peer, {
              params,
              paramsFile,
              dir,
              pki,
              rustBin,
              onProgress: (m) => display.update(m),
            });
          } catch (error) {
            outcome = { error: errorMessage(error) };
          }
        }
        const cells = entries(workload, peer, outcome, params);
        run.results.push(...cells);
        display.finish(summary(cells));
      }
    }
    process.stdout.write(markdown(run, options.workloads, options.peers, params));
    if (options.json) {
      fs.mkdirSync(path.dirname(path.resolve(options.json)), { recursive: true });
      fs.writeFileSync(options.json, JSON.stringify(run, null, 2) + '\n');
      display.note(`results: ${options.json}`);
    }
    if (options.svg) {
      fs.mkdirSync(path.dirname(path.resolve(options.svg)), { recursive: true });
      fs.writeFileSync(options.svg, svgChart(run, options.workloads, options.peers, params));
      display.note(`chart: ${options.svg}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
