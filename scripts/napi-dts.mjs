// Writes the addon's TypeScript declarations, as napi-rs generates them
// from what napi-derive recorded while compiling it: the types that cross
// the boundary, which test/types/bindings.ts checks lib/ against.
// Usage: node scripts/napi-dts.mjs <type-def folder> <out.d.ts>
import fs from 'node:fs';
import path from 'node:path';

import { generateTypeDef } from '@napi-rs/cli';

const [typeDefDir, out] = process.argv.slice(2);
if (!typeDefDir || !out) throw new Error('usage: napi-dts.mjs <type-def folder> <out.d.ts>');
const { dts } = await generateTypeDef({ typeDefDir, cwd: path.dirname(out) });
if (!dts.includes('class NativeEndpoint')) {
  throw new Error(`no NativeEndpoint in the type definitions under ${typeDefDir}: was the addon compiled with NAPI_TYPE_DEF_TMP_FOLDER set?`);
}
fs.writeFileSync(out, dts);
console.error(`[quicbridge] native types: ${path.relative(process.cwd(), out)}`);
