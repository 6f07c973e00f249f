import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import test from 'ava';

const run = promisify(execFile);
const fixture = path.join(__dirname, '..', 'fixtures', 'which-backend.ts');

interface Outcome {
  name?: string;
  echoed?: string;
  status?: { name: string; loaded: boolean; error?: string }[];
  error?: { code: string; message: string; isQuicError: boolean };
}

async function whichBackend(env: Record<string, string>, nodeFlags: string[] = [], args: string[] = []): Promise<Outcome> {
  const cleanEnv = { ...process.env };
  delete cleanEnv.QUICBRIDGE_BACKEND;
  delete cleanEnv.QUICBRIDGE_NATIVE_PATH;
  delete cleanEnv.QUICBRIDGE_WASM_PATH;
  const { stdout } = await run(process.execPath, [...nodeFlags, '--import=tsx', fixture, ...args], {
    env: { ...cleanEnv, ...env },
    timeout: 60_000,
  });
  const lastLine = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as Outcome;
}

test('native is preferred when its addon loads', async (t) => {
  const outcome = await whichBackend({});
  t.is(outcome.name, 'native');
});

test('under --no-addons the loader ends up on wasm, and wasm works', async (t) => {
  const outcome = await whichBackend({}, ['--no-addons'], ['echo']);
  t.is(outcome.name, 'wasm');
  t.is(outcome.echoed, 'ping');
  const native = outcome.status?.find((s) => s.name === 'native');
  t.false(native?.loaded);
  t.regex(native?.error ?? '', /addons/i);
});

test('QUICBRIDGE_BACKEND forces each backend', async (t) => {
  t.is((await whichBackend({ QUICBRIDGE_BACKEND: 'wasm' })).name, 'wasm');
  t.is((await whichBackend({ QUICBRIDGE_BACKEND: 'native' })).name, 'native');
});

test('QUICBRIDGE_BACKEND with an unknown value is an invalid-argument error', async (t) => {
  const outcome = await whichBackend({ QUICBRIDGE_BACKEND: 'quantum' });
  t.is(outcome.error?.code, 'ERR_QUIC_INVALID_ARG');
  t.regex(outcome.error?.message ?? '', /QUICBRIDGE_BACKEND/);
});

test('forcing native where addons are disabled fails clearly instead of falling back', async (t) => {
  const outcome = await whichBackend({ QUICBRIDGE_BACKEND: 'native' }, ['--no-addons']);
  t.is(outcome.error?.code, 'ERR_QUIC_BACKEND_UNAVAILABLE');
  t.true(outcome.error?.isQuicError);
  t.regex(outcome.error?.message ?? '', /native backend could not be loaded/);
  t.regex(outcome.error?.message ?? '', /QUICBRIDGE_BACKEND=wasm/);
});

test('a broken native override falls back to wasm and says why native failed', async (t) => {
  const outcome = await whichBackend({ QUICBRIDGE_NATIVE_PATH: '/nonexistent/quicbridge.node' });
  t.is(outcome.name, 'wasm');
  t.regex(outcome.status?.find((s) => s.name === 'native')?.error ?? '', /nonexistent/);
});

test('when nothing loads, the error names each backend tried and why it failed', async (t) => {
  const outcome = await whichBackend({ QUICBRIDGE_WASM_PATH: '/nonexistent/quicbridge_wasm.js' }, ['--no-addons']);
  t.is(outcome.error?.code, 'ERR_QUIC_NO_BACKEND');
  const message = outcome.error?.message ?? '';
  t.regex(message, /- native: .*addons/i);
  t.regex(message, /- wasm: .*\/nonexistent\/quicbridge_wasm\.js/);
});
