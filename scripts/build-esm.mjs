// Writes the ESM entry points next to the compiled CommonJS ones: one copy
// of the library (no dual-package hazard), with named exports for `import`.
// Usage: node scripts/build-esm.mjs <entry>...   (entries relative to dist/, e.g. index, agentic-flow/index)
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const require = createRequire(import.meta.url);

for (const entry of process.argv.slice(2)) {
  const names = Object.keys(require(path.join(dist, `${entry}.js`))).filter((name) => name !== '__esModule');
  const base = path.basename(entry);
  const lines = [
    `import cjs from './${base}.js';`,
    ...names.map((name) => `export const ${name} = cjs.${name};`),
    '',
  ];
  fs.writeFileSync(path.join(dist, `${entry}.mjs`), lines.join('\n'));
  fs.writeFileSync(path.join(dist, `${entry}.d.mts`), `export * from './${base}.js';\n`);
}
