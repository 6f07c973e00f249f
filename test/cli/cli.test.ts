// The CLI as a user runs it: spawned processes, real files, exit codes.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

import test from 'ava';

import { connect } from '../../lib/index';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'quicbridge-cli-'));
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, cli, ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Starts a long-running command and waits for its JSON "listening" line. */
async function start(args: string[]): Promise<{ child: ChildProcess; info: { port: number; fingerprint256: string; backend: string }; output: () => string }> {
  const child = spawn(process.execPath, [cli, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.resume();
  for (;;) {
    const line = stdout.split('\n').find((l) => l.includes('"listening"'));
    if (line) return { child, info: JSON.parse(line) as { port: number; fingerprint256: string; backend: string }, output: () => stdout };
    if (child.exitCode !== null) throw new Error(`${args[0]} exited ${child.exitCode}: ${stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  if (child.exitCode === null) await once(child, 'exit');
  return child.exitCode;
}

test.before(() => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: npm run build:ts (npm test does it)`);
});

test('--help on the CLI and on every command; usage errors exit 2', async (t) => {
  const top = await run(['--help']);
  t.is(top.code, 0);
  t.regex(top.stdout, /usage: quicbridge <command>/);
  for (const command of ['serve', 'get', 'send', 'recv', 'bench', 'doctor']) {
    const help = await run([command, '--help']);
    t.is(help.code, 0, command);
    t.regex(help.stdout, new RegExp(`usage: quicbridge ${command}`));
  }
  t.is((await run([])).code, 2);
  t.is((await run(['teleport'])).code, 2);
  t.is((await run(['get', 'https://localhost:1/x', '--bogus'])).code, 2);
  const noTrust = await run(['get', 'https://localhost:1/x']);
  t.is(noTrust.code, 2);
  t.regex(noTrust.stderr, /--ca FILE, --fingerprint/);
  t.is((await run(['serve', '--backend', 'quantum'])).code, 2);
});

test('doctor says which backends load, and why one does not under --no-addons', async (t) => {
  const all = await run(['doctor', '--json']);
  t.is(all.code, 0);
  const report = JSON.parse(all.stdout) as { active: string; backends: { name: string; loaded: boolean; error?: string }[] };
  t.is(report.active, 'native');
  t.true(report.backends.every((b) => b.loaded));
  const noAddons = await run(['doctor', '--json'], {}, ['--no-addons']);
  const limited = JSON.parse(noAddons.stdout) as typeof report;
  t.is(limited.active, 'wasm');
  t.regex(limited.backends.find((b) => b.name === 'native')?.error ?? '', /addons/i);
});

for (const [serverBackend, clientBackend] of [['native', 'wasm'], ['wasm', 'native']] as const) {
  test(`serve (${serverBackend}) and get (${clientBackend}): a file over HTTP/3 with a progress bar, pinned by fingerprint`, async (t) => {
    const www = fs.mkdtempSync(path.join(work, 'www-'));
    const body = randomBytes(2_000_000);
    fs.writeFileSync(path.join(www, 'data.bin'), body);
    const certFile = path.join(www, '..', `serve-${serverBackend}.pem`);
    const { child, info } = await start(['serve', '--port', '0', '--dir', www, '--backend', serverBackend, '--cert-out', certFile]);
    t.is(info.backend, serverBackend);
    const url = `https://localhost:${info.port}`;
    const out = path.join(work, `got-${serverBackend}.bin`);

    const got = await run(['get', `${url}/data.bin`, '--fingerprint', info.fingerprint256, '-o', out, '--backend', clientBackend], { QUICBRIDGE_PROGRESS: '1' });
    t.is(got.code, 0, got.stderr);
    t.is(sha256(fs.readFileSync(out)), sha256(body));
    t.regex(got.stderr, /100% \[=+\]/);
    t.notRegex(got.stderr, /NOT verified/);

    const missing = await run(['get', `${url}/nothing`, '--ca', certFile, '--backend', clientBackend]);
    t.is(missing.code, 5, 'an HTTP error status');
    const wrongPin = await run(['get', `${url}/data.bin`, '--fingerprint', 'AB'.repeat(32), '--backend', clientBackend]);
    t.is(wrongPin.code, 3, 'a TLS failure');

    // The same server echoes on its other ALPN.
    const echo = await connect({ host: '127.0.0.1', port: info.port, servername: 'localhost', ca: fs.readFileSync(certFile, 'utf8'), alpn: 'quicbridge-echo' });
    const stream = await echo.openStream();
    stream.end('echo?');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    t.is(Buffer.concat(chunks).toString(), 'echo?');
    await echo.close();

    t.is(await stop(child), 0, 'a clean shutdown on SIGTERM');
  });

  test(`send (${clientBackend}) to recv (${serverBackend}): a file arrives SHA-256 verified`, async (t) => {
    const out = fs.mkdtempSync(path.join(work, 'in-'));
    const file = path.join(work, `payload-${clientBackend}.bin`);
    const payload = randomBytes(3_000_000);
    fs.writeFileSync(file, payload);
    const { child, info } = await start(['recv', '--port', '0', '--once', '--out', out, '--backend', serverBackend]);
    const sent = await run(['send', file, `localhost:${info.port}`, '--fingerprint', info.fingerprint256, '--backend', clientBackend], { QUICBRIDGE_PROGRESS: '1' });
    t.is(sent.code, 0, sent.stderr);
    t.regex(sent.stdout, /verified by the receiver/);
    t.regex(sent.stderr, /send payload-\w+\.bin 100%/);
    if (child.exitCode === null) await once(child, 'exit');
    t.is(child.exitCode, 0);
    t.is(sha256(fs.readFileSync(path.join(out, path.basename(file)))), sha256(payload));
  });
}

test('send to a port where nothing listens gives up after --timeout with status 4', async (t) => {
  const file = path.join(work, 'small.bin');
  fs.writeFileSync(file, 'x');
  const result = await run(['send', file, 'localhost:9', '--insecure', '--timeout', '1']);
  t.is(result.code, 4, result.stderr);
});

test('bench measures each backend that loads', async (t) => {
  t.timeout(5 * 60_000);
  const result = await run(['bench', '--json', '--backend', 'wasm']);
  t.is(result.code, 0, result.stderr);
  const { results } = JSON.parse(result.stdout) as { results: { backend: string; bulkMBps: number; rrP50Ms: number; handshakesPerSecond: number }[] };
  t.is(results.length, 1);
  t.is(results[0]?.backend, 'wasm');
  t.true(results[0]!.bulkMBps > 0 && results[0]!.rrP50Ms > 0 && results[0]!.handshakesPerSecond > 0);
});

test.after.always(() => fs.rmSync(work, { recursive: true, force: true }));
