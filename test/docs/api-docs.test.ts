import fs from 'node:fs';
import path from 'node:path';

import test from 'ava';

import * as quicbridge from '../../lib/index';

const root = path.join(__dirname, '..', '..');
const docs = fs.readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');
const index = fs.readFileSync(path.join(root, 'lib', 'index.ts'), 'utf8');

function documented(name: string): boolean {
  return docs.includes(`\`${name}\``) || docs.includes(`\`${name}(`) || docs.includes(`${name}(`) || docs.includes(`\`[Symbol.${name}]`);
}

/** Every name lib/index.ts exports, values and types alike. */
function exportedNames(): string[] {
  const names = new Set<string>();
  for (const match of index.matchAll(/export (?:type )?\{([^}]+)\}/g)) {
    for (const part of match[1]!.split(',')) {
      const name = part.trim().replace(/^type /, '').split(/\s+as\s+/).pop()!.trim();
      if (name) names.add(name);
    }
  }
  for (const match of index.matchAll(/export (?:async )?(?:function|class|const) (\w+)/g)) names.add(match[1]!);
  return [...names];
}

test('every export of the package is documented in docs/api.md', (t) => {
  const names = exportedNames();
  t.true(names.length > 30, `found ${names.length} exports`);
  for (const name of names) t.true(documented(name), `${name} is exported but not in docs/api.md`);
});

test('every public method and getter of the classes is documented', (t) => {
  const classes: [string, { prototype: object }][] = [
    ['QuicServer', quicbridge.QuicServer],
    ['QuicConnection', quicbridge.QuicConnection],
    ['QuicStream', quicbridge.QuicStream],
    ['Http3Client', quicbridge.Http3Client],
    ['Http3Response', quicbridge.Http3Response],
    ['Http3Request', quicbridge.Http3Request],
    ['Http3ServerResponse', quicbridge.Http3ServerResponse],
  ];
  for (const [className, Class] of classes) {
    const members = [
      ...Object.getOwnPropertyNames(Class).filter((name) => !['length', 'name', 'prototype'].includes(name)),
      ...Object.getOwnPropertyNames(Class.prototype),
      ...Object.getOwnPropertySymbols(Class.prototype).map((s) => s.description?.replace(/^(Symbol|nodejs)\./, '') ?? ''),
    ].filter((name) => name !== 'constructor' && !name.startsWith('_'));
    t.true(members.length >= 2, `${className} has ${members.length} members`);
    for (const member of members) t.true(documented(member), `${className}.${member} is not in docs/api.md`);
  }
});
