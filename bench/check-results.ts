/**
 * Checks a results file of `npm run bench -- --json FILE`: every
 * workload × peer × metric cell is there, exactly once, and is either a
 * number (the median of its finite samples) or n/a with a reason. Nothing
 * about speed. `tsx bench/check-results.ts FILE`; exits 1 on a problem.
 */

import fs from 'node:fs';

import { FULL, metricsOf, PEERS, QUICK, WORKLOADS } from './config';
import type { ResultEntry, RunResults } from './results';
import { median } from './stats';

export function checkResults(run: RunResults): string[] {
  const problems: string[] = [];
  if (typeof run.date !== 'string' || Number.isNaN(Date.parse(run.date))) problems.push('date is not a date');
  for (const key of ['cpu', 'cores', 'memory', 'node', 'rustc']) {
    if (run.machine?.[key] === undefined) problems.push(`machine.${key} is missing`);
  }
  if (!Array.isArray(run.results)) return [...problems, 'results is not an array'];
  const params = run.params ?? (run.quick ? QUICK : FULL);
  const seen = new Set<string>();
  for (const entry of run.results) {
    const key = `${entry.workload} × ${entry.peer} × ${entry.metric}`;
    if (seen.has(key)) problems.push(`${key}: reported twice`);
    seen.add(key);
  }
  for (const workload of WORKLOADS) {
    for (const peer of PEERS) {
      for (const spec of metricsOf(workload, params)) {
        const key = `${workload} × ${peer} × ${spec.metric}`;
        const entry: ResultEntry | undefined = run.results.find(
          (r) => r.workload === workload && r.peer === peer && r.metric === spec.metric,
        );
        if (!entry) {
          problems.push(`${key}: missing`);
        } else if (entry.value === null) {
          if (typeof entry.reason !== 'string' || entry.reason.trim() === '') problems.push(`${key}: n/a without a reason`);
          if (entry.samples.length > 0) problems.push(`${key}: n/a but has samples`);
        } else if (typeof entry.value !== 'number' || !Number.isFinite(entry.value)) {
          problems.push(`${key}: value ${String(entry.value)} is neither a number nor null`);
        } else if (entry.samples.length === 0 || !entry.samples.every((s) => Number.isFinite(s))) {
          problems.push(`${key}: a number without finite samples`);
        } else if (Math.abs(median(entry.samples) - entry.value) > 1e-9 * Math.max(1, Math.abs(entry.value))) {
          problems.push(`${key}: value ${entry.value} is not the median of its samples`);
        } else if (entry.unit !== spec.unit) {
          problems.push(`${key}: unit ${entry.unit}, expected ${spec.unit}`);
        }
      }
    }
  }
  return problems;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/check-results.ts FILE.json\n');
    process.exit(2);
  }
  const problems = checkResults(JSON.parse(fs.readFileSync(file, 'utf8')) as RunResults);
  if (problems.length > 0) {
    process.stderr.write(`${file}: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  const run = JSON.parse(fs.readFileSync(file, 'utf8')) as RunResults;
  const na = run.results.filter((r) => r.value === null).length;
  process.stdout.write(`${file}: ${run.results.length} cells, ${run.results.length - na} measured, ${na} n/a with a reason\n`);
}
