import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';

import test from 'ava';

import * as agenticFlow from '../../lib/agentic-flow/index';
import * as quicbridge from '../../lib/index';

const root = path.join(__dirname, '..', '..');
const docs = fs.readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');
const index = fs.readFileSync(path.join(root, 'lib', 'index.ts'), 'utf8');
const agenticDocs = fs.readFileSync(path.join(root, 'docs', 'agentic-flow.md'), 'utf8');
const agenticIndex = fs.readFileSync(path.join(root, 'lib', 'agentic-flow', 'index.ts'), 'utf8');

function documented(name: string, text = docs): boolean {
  return text.includes(`\`${name}\``) || text.includes(`\`${name}(`) || text.includes(`${name}(`) || text.includes(`\`[Symbol.${name}]`);
}

/** Every name an index module exports, values and types alike. */
function exportedNames(source = index): string[] {
  const names = new Set<string>();
  for (const match of source.matchAll(/export (?:type )?\{([^}]+)\}/g)) {
    for (const part of match[1]!.split(',')) {
      const name = part.trim().replace(/^type /, '').split(/\s+as\s+/).pop()!.trim();
      if (name) names.add(name);
    }
  }
  for (const match of source.matchAll(/export (?:async )?(?:function|class|const) (\w+)/g)) names.add(match[1]!);
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

test('quicbridge/agentic-flow: every export, public member, config field and environment variable is in docs/agentic-flow.md', (t) => {
  const names = exportedNames(agenticIndex);
  t.true(names.length > 20, `found ${names.length} exports`);
  for (const name of names) t.true(documented(name, agenticDocs), `${name} is exported by quicbridge/agentic-flow but not in docs/agentic-flow.md`);
  const classes: [string, { prototype: object }][] = [
    ['WasmQuicClient', agenticFlow.WasmQuicClient],
    ['QuicClient', agenticFlow.QuicClient],
    ['QuicServer', agenticFlow.QuicServer],
    ['QuicConnectionPool', agenticFlow.QuicConnectionPool],
    ['QuicTransport', agenticFlow.QuicTransport],
  ];
  // EventEmitter's own methods are Node's, documented there.
  const inherited = new Set(Object.getOwnPropertyNames(EventEmitter.prototype));
  for (const [className, Class] of classes) {
    const members = Object.getOwnPropertyNames(Class.prototype).filter((name) => name !== 'constructor' && !inherited.has(name));
    // Members marked @internal (used between the module's own classes) are left out of the docs.
    const internal = ['dial', 'connectionFor'];
    for (const member of members.filter((m) => !internal.includes(m))) t.true(documented(member, agenticDocs), `${className}.${member} is not in docs/agentic-flow.md`);
  }
  for (const variable of agenticFlow.QUIC_ENVIRONMENT_VARIABLES) t.true(agenticDocs.includes(`| \`${variable}\``), `${variable} is not in the environment table`);
  const config = agenticFlow.loadQuicConfig({});
  for (const field of Object.keys(config).filter((f) => !['explicit', 'enabledBy'].includes(f))) t.true(documented(field, agenticDocs), `config field ${field} is not in docs/agentic-flow.md`);
});
