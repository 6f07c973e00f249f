#!/usr/bin/env node
// Writes the seed corpus of the `message` fuzz target
// (crates/core/fuzz/corpus/message/): frames as docs/agentic-flow.md
// "Message framing" lays them out, valid and broken, built here by hand
// rather than by the codec under test so that a codec bug cannot make its
// own seeds agree with it. Deterministic: rerun it after a format change
// and commit the result.
// Usage: node scripts/fuzz-message-seeds.mjs
import { Buffer } from 'node:buffer';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'crates', 'core', 'fuzz', 'corpus', 'message');

const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const text = (s) => Buffer.from(s, 'utf8');
const part = (bytes) => Buffer.concat([u32(bytes.length), bytes]);

function messageFrame({ header, metadata = '', payload = Buffer.alloc(0), kind = 'M', version = 1 }) {
  return Buffer.concat([text(kind), Buffer.from([version]), part(text(header)), part(text(metadata)), part(payload)]);
}

function reply(kind, json) {
  return Buffer.concat([text(kind), Buffer.from([1]), part(text(json))]);
}

const HEADER = '{"id":"m-1","type":"task","timestamp":1700000000000}';

const seeds = {
  'message-minimal': messageFrame({ header: '{"id":"a","type":"b","timestamp":0}' }),
  'message-metadata-payload': messageFrame({
    header: HEADER,
    metadata: '{"z":1,"a":[1.50,"x"],"nested":{"k":null}}',
    payload: text('hello'),
  }),
  'message-unicode': messageFrame({
    header: '{"timestamp":9007199254740991,"type":"coordination","id":"\\u00e9t\\u00e9-\u2603"}',
    metadata: '{}',
    payload: Buffer.from([0, 1, 2, 0xff]),
  }),
  'message-spaced-header': messageFrame({ header: ' { "id" : "x" , "type" : "heartbeat" , "timestamp" : 1 } ' }),
  // The payload is said to be longer than what follows.
  'message-short-payload': Buffer.concat([
    text('M'), Buffer.from([1]), part(text(HEADER)), u32(0), u32(100), text('abc'),
  ]),
  // A metadata length that puts the payload length field at 2^32 - 4:
  // the offset past it is 2^32, which a 32-bit usize (wasm32) cannot hold.
  'message-huge-metadata-length': Buffer.concat([
    text('M'), Buffer.from([1]), part(text(HEADER)), u32(2 ** 32 - 4 - (10 + HEADER.length)), text('{}'), u32(0),
  ]),
  'message-version-2': messageFrame({ header: HEADER, version: 2 }),
  'data-stream': Buffer.concat([text('S'), Buffer.from([1]), text('raw bytes')]),
  'reply-accepted': reply('A', '{"id":"m-1"}'),
  'reply-rejected': reply('N', '{"id":"m-1","error":"no handler for type task"}'),
  'reply-rejected-no-id': reply('N', '{"id":null,"error":"bad frame"}'),
  // Sender side: header JSON, then after a newline the metadata JSON.
  'header-json': text(`${HEADER}\n{"priority":1}`),
  'reply-json': text('{"id":"m-1","error":"busy"}'),
  // serde reads a struct from an array of its fields too; the format's
  // JSON parts are objects (an array header was once accepted).
  'message-array-header': messageFrame({ header: '["m-1","task",1]' }),
  'reply-array': reply('A', '["m-1"]'),
  'header-json-array': text('["m-1","task",1]'),
};

mkdirSync(dir, { recursive: true });
for (const name of readdirSync(dir)) rmSync(join(dir, name));
for (const [name, bytes] of Object.entries(seeds)) writeFileSync(join(dir, name), bytes);
console.log(`${Object.keys(seeds).length} seeds in ${dir}`);
