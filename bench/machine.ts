import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function sha256(file: string): string | undefined {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Which cargo profile the native addon at `addon` was built with, found by
 * comparing it with cargo's outputs in `target`: `release`, `debug`, or `unknown`.
 */
export function nativeProfile(addon: string | undefined, target: string): 'release' | 'debug' | 'unknown' {
  if (!addon) return 'unknown';
  const hash = sha256(addon);
  if (!hash) return 'unknown';
  for (const profile of ['release', 'debug'] as const) {
    if (sha256(path.join(target, profile, 'libquicbridge_napi.so')) === hash) return profile;
  }
  return 'unknown';
}

function rustcVersion(): string {
  try {
    return execFileSync('rustc', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'rustc not found';
  }
}

export function machineInfo(extra: Record<string, unknown>): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    rustc: rustcVersion(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    ...extra,
  };
}
