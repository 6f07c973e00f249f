// Every target package.json names ("quicbridge"."targets") must have a
// prebuild job and a test job in the release workflow, and the workflow must
// build nothing package.json does not name.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse } from 'yaml';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const targets = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).quicbridge.targets;
const workflow = parse(fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8'));

const matrixTargets = (job) => [
  ...(job?.strategy?.matrix?.target ?? []),
  ...(job?.strategy?.matrix?.include ?? []).map((entry) => entry.target),
].filter(Boolean);

const built = new Set(matrixTargets(workflow.jobs.prebuild));
const tested = new Set(matrixTargets(workflow.jobs.test));
if (workflow.jobs['test-musl']) tested.add('linux-x64-musl');

const problems = [];
for (const target of targets) {
  if (!built.has(target)) problems.push(`${target}: no prebuild job`);
  if (!tested.has(target)) problems.push(`${target}: no test job`);
}
for (const target of built) if (!targets.includes(target)) problems.push(`${target}: built but not in package.json`);
if (!workflow.jobs.wasm) problems.push('no wasm job');
if (!workflow.jobs.package || !workflow.jobs.publish) problems.push('no package/publish jobs');

if (problems.length > 0) {
  console.error(`release workflow does not match package.json:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`release workflow: ${targets.length} targets, each built and tested`);
