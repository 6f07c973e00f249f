/**
 * The JavaScript runtimes the peers run in, and how to start a TypeScript
 * file of this repository in each. Bun and Deno are devDependencies (`bun`,
 * `deno`), whose per-platform optional packages carry the binaries; their
 * postinstall scripts may or may not have moved them (npm may not run
 * install scripts), so both places are looked in, and a binary counts only
 * if it runs.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import type { JsPeerName } from './config';
import { nodeArgs, REPO_ROOT } from './spawn';

export type Runtime = 'node' | 'bun' | 'deno';

export const RUNTIME_OF: Record<JsPeerName, Runtime> = {
  native: 'node',
  wasm: 'node',
  'node-http2': 'node',
  'matrixai-quic': 'node',
  'bun-quic': 'bun',
  'deno-quic': 'deno',
};

export interface RuntimeBinary {
  path: string;
  version: string;
}

const MODULES = path.join(REPO_ROOT, 'node_modules');
const EXE = process.platform === 'win32' ? '.exe' : '';

/** Entries of a node_modules scope that start with `prefix`, each joined with `tail`. */
function inScope(scope: string, prefix: string, tail: string[]): string[] {
  try {
    return fs
      .readdirSync(path.join(MODULES, scope))
      .filter((name) => name.startsWith(prefix))
      .map((name) => path.join(MODULES, scope, name, ...tail));
  } catch {
    return [];
  }
}

/** Where npm may have put each binary: the platform package's own copy first, then where postinstall moves it. */
function candidates(runtime: Exclude<Runtime, 'node'>): string[] {
  return runtime === 'bun'
    ? [...inScope('@oven', 'bun-', ['bin', `bun${EXE}`]), path.join(MODULES, 'bun', 'bin', 'bun.exe')]
    : [...inScope('@deno', '', [`deno${EXE}`]), path.join(MODULES, 'deno', `deno${EXE}`)];
}

/** `bun --version` prints `1.4.5`; `deno --version` starts with `deno 2.9.6 (…)`. */
function versionOf(binary: string): string | undefined {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return /(\d+\.\d+\.\d+\S*)/.exec(out)?.[1];
  } catch {
    return undefined; // missing, not executable (bun's placeholder before its postinstall), another platform's
  }
}

const found = new Map<Runtime, RuntimeBinary | string>();

/** Bun's or Deno's binary from node_modules, or why there is none. */
export function runtimeBinary(runtime: Exclude<Runtime, 'node'>): RuntimeBinary | string {
  let result = found.get(runtime);
  if (result === undefined) {
    const tried = candidates(runtime);
    result = `no runnable ${runtime} binary in node_modules (the \`${runtime}\` devDependency has no package for ${process.platform}-${process.arch}, or \`npm install\` has not run); looked at ${tried.map((p) => path.relative(REPO_ROOT, p)).join(', ')}`;
    for (const binary of tried) {
      const version = versionOf(binary);
      if (version) {
        result = { path: binary, version };
        break;
      }
    }
    found.set(runtime, result);
  }
  return result;
}

/** Why `peer` cannot run here, if it cannot. */
export function runtimeProblem(peer: JsPeerName): string | undefined {
  const runtime = RUNTIME_OF[peer];
  if (runtime === 'node') return undefined;
  const binary = runtimeBinary(runtime);
  return typeof binary === 'string' ? binary : undefined;
}

export interface Command {
  command: string;
  args: string[];
}

/**
 * The command that runs the repository's TypeScript `file` with `args` in
 * `peer`'s runtime. `readDir` is the run's directory (certificates,
 * parameters), the one place Deno is allowed to read.
 */
export function peerCommand(peer: JsPeerName, file: string, args: string[], options: { exposeGc?: boolean; readDir: string }): Command {
  const runtime = RUNTIME_OF[peer];
  if (runtime === 'node') return { command: process.execPath, args: nodeArgs(file, args, options) };
  const binary = runtimeBinary(runtime);
  if (typeof binary === 'string') throw new Error(binary);
  const script = path.join(REPO_ROOT, file);
  if (runtime === 'bun') {
    return { command: binary.path, args: [...(options.exposeGc ? ['--expose-gc'] : []), script, ...args] };
  }
  return {
    command: binary.path,
    args: [
      'run',
      '--quiet',
      // No deno.json, no deno.lock written into the checkout, node_modules left as npm made it.
      '--no-config',
      '--no-lock',
      '--node-modules-dir=manual',
      // The bench imports `./config`, not `./config.ts`, as tsx lets it.
      '--sloppy-imports',
      '--unstable-net',
      '--no-prompt',
      '--allow-net=127.0.0.1',
      `--allow-read=${options.readDir}`,
      ...(options.exposeGc ? ['--v8-flags=--expose-gc'] : []),
      script,
      ...args,
    ],
  };
}

/** The versions of the runtimes found, for the report. */
export function runtimeVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const runtime of ['bun', 'deno'] as const) {
    const binary = runtimeBinary(runtime);
    versions[runtime] = typeof binary === 'string' ? 'not found' : binary.version;
  }
  return versions;
}
