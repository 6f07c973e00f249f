// The package as users get it: `npm pack`, then installed into a fresh
// project with no Rust toolchain on PATH and no network (npm --offline).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import test from 'ava';

import { createPki } from '../helpers/certs';

const run = promisify(execFile);
const root = path.join(__dirname, '..', '..');
const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

let project: string;
let bin: string;
let packed: string[];

/** An environment whose PATH holds node and nothing else: no cargo, no rustc, no compiler. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: bin, ...extra };
  return env;
}

const echoScript = `
import fs from 'node:fs';
import { activeBackend, connect, listen } from 'quicbridge';
const pem = (name) => fs.readFileSync(new URL('./' + name, import.meta.url), 'utf8');
try {
  const server = await listen({ cert: pem('server.pem'), key: pem('server.key'), alpn: 'echo' }, async (connection) => {
    for await (const stream of connection.streams()) stream.pipe(stream);
  });
  const client = await connect({ host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: pem('ca.pem'), alpn: 'echo' });
  const stream = await client.openStream();
  stream.end('ping');
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  await client.close();
  await server.close();
  console.log(JSON.stringify({ backend: activeBackend().name, echoed: Buffer.concat(chunks).toString() }));
} catch (error) {
  console.log(JSON.stringify({ error: { code: error.code, message: error.message } }));
}
`;

// The agentic-flow API, by its subpath: a message to a server, acknowledged, and a push back.
const agenticScript = `
import fs from 'node:fs';
import { createQuicMessage, QuicServer, WasmQuicClient } from 'quicbridge/agentic-flow';
try {
  const server = new QuicServer({ host: '127.0.0.1', port: 0, generateCertificate: true });
  await server.initialize();
  await server.listen();
  fs.writeFileSync(new URL('./agentic-ca.pem', import.meta.url), server.certificatePem);
  let pushed;
  server.on('message', (message, connectionId) => {
    pushed = server.sendMessage(connectionId, createQuicMessage('reply', 'result', message.payload));
  });
  const client = new WasmQuicClient({ ca_path: new URL('./agentic-ca.pem', import.meta.url).pathname });
  const addr = '127.0.0.1:' + server.address.port;
  await client.sendMessage(addr, createQuicMessage('m1', 'task', Buffer.from('ping')));
  const reply = await client.recvMessage(addr);
  await pushed; // the client acknowledged the push
  await client.close();
  await server.stop();
  console.log(JSON.stringify({ type: reply.msg_type, payload: Buffer.from(reply.payload).toString() }));
} catch (error) {
  console.log(JSON.stringify({ error: { code: error.code, message: error.message } }));
}
`;

const agenticRequireScript = `
const agentic = require('quicbridge/agentic-flow');
const { QuicError } = require('quicbridge');
console.log(JSON.stringify({ names: ['QuicClient', 'QuicServer', 'QuicConnectionPool', 'QuicTransport', 'WasmQuicClient', 'createQuicMessage', 'defaultConfig'].filter((n) => typeof agentic[n] === 'function'), sameErrors: agentic.QuicError === QuicError }));
`;

const requireScript = `
const { activeBackend, QuicError } = require('quicbridge');
console.log(JSON.stringify({ backend: activeBackend().name, errorClass: typeof QuicError }));
`;

test.before(async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'quicbridge-install-'));
  bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const tarballs = path.join(work, 'tarballs');
  fs.mkdirSync(tarballs);
  // The build (npm test runs it first) made dist/, prebuilds/ and wasm/pkg/.
  const packOutput = execFileSync(process.execPath, [npmCli, 'pack', '--ignore-scripts', '--json', '--pack-destination', tarballs], { cwd: root, encoding: 'utf8' });
  const [info] = JSON.parse(packOutput) as { filename: string; files: { path: string }[] }[];
  packed = info!.files.map((f) => f.path);
  project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run(process.execPath, [npmCli, 'install', '--offline', '--no-audit', '--no-fund', path.join(tarballs, info!.filename)], {
    cwd: project,
    env: bareEnv({ npm_config_cache: path.join(os.homedir(), '.npm') }),
  });
  const { ca, server } = await createPki();
  fs.writeFileSync(path.join(project, 'ca.pem'), ca.certPem);
  fs.writeFileSync(path.join(project, 'server.pem'), server.chainPem);
  fs.writeFileSync(path.join(project, 'server.key'), server.keyPem);
  fs.writeFileSync(path.join(project, 'echo.mjs'), echoScript);
  fs.writeFileSync(path.join(project, 'which.cjs'), requireScript);
  fs.writeFileSync(path.join(project, 'agentic.mjs'), agenticScript);
  fs.writeFileSync(path.join(project, 'agentic.cjs'), agenticRequireScript);
});

async function node(args: string[], extra: Record<string, string> = {}, cwd = project) {
  const { stdout, stderr } = await run(process.execPath, args, { cwd, env: bareEnv(extra), timeout: 60_000 });
  return { result: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>, stderr };
}

test.serial('the tarball holds the compiled library, the prebuilt addon and the wasm module, and no sources', (t) => {
  for (const file of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts',
    'dist/agentic-flow/index.js', 'dist/agentic-flow/index.mjs', 'dist/agentic-flow/index.d.ts', 'dist/agentic-flow/index.d.mts', 'prebuilds/linux-x64/quicbridge.napi.glibc.node',
    'wasm/pkg/quicbridge_wasm.js', 'wasm/pkg/quicbridge_wasm_bg.wasm', 'LICENSE', 'CHANGELOG.md', 'README.md', 'package.json']) {
    t.true(packed.includes(file), `${file} is in the package`);
  }
  t.false(packed.some((f) => /^(lib|crates|napi\/src|wasm\/src|test|bench)\//.test(f)), 'no sources or tests');
});

test.serial('the installed package has no Rust toolchain to fall back on', async (t) => {
  const probe = await run('/bin/sh', ['-c', 'command -v cargo || command -v rustc || echo none'], { env: bareEnv() });
  t.is(probe.stdout.trim(), 'none');
});

test.serial('1. a QUIC echo works on the native backend (ESM import; require works too)', async (t) => {
  const { result } = await node(['echo.mjs']);
  t.deepEqual(result, { backend: 'native', echoed: 'ping' });
  const viaRequire = await node(['which.cjs']);
  t.deepEqual(viaRequire.result, { backend: 'native', errorClass: 'function' });
});

test.serial('the quicbridge/agentic-flow subpath works from the tarball: a message round trip by import, every class by require', async (t) => {
  const { result } = await node(['agentic.mjs']);
  t.deepEqual(result, { type: 'Result', payload: 'ping' });
  const viaRequire = await node(['agentic.cjs']);
  t.deepEqual(viaRequire.result, {
    names: ['QuicClient', 'QuicServer', 'QuicConnectionPool', 'QuicTransport', 'WasmQuicClient', 'createQuicMessage', 'defaultConfig'],
    sameErrors: true,
  });
});

test.serial('the package installs the quicbridge command', async (t) => {
  const { stdout } = await run(process.execPath, [path.join(project, 'node_modules', '.bin', 'quicbridge'), 'doctor', '--json'], { cwd: project, env: bareEnv() });
  const report = JSON.parse(stdout) as { active: string; quicbridge: string };
  t.is(report.active, 'native');
  t.is(report.quicbridge, (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version);
});

test.serial('2. under node --no-addons the same script works on wasm, without a notice', async (t) => {
  const { result, stderr } = await node(['--no-addons', 'echo.mjs']);
  t.deepEqual(result, { backend: 'wasm', echoed: 'ping' });
  t.notRegex(stderr, /quicbridge:/);
});

test.serial('3 and 4. without prebuilds: wasm with a one-line notice; forcing native names the file, platform and remedy', async (t) => {
  const prebuilds = path.join(project, 'node_modules', 'quicbridge', 'prebuilds');
  fs.rmSync(prebuilds, { recursive: true });

  const fallback = await node(['echo.mjs']);
  t.deepEqual(fallback.result, { backend: 'wasm', echoed: 'ping' });
  const notice = fallback.stderr.split('\n').filter((line) => line.includes('quicbridge:'));
  t.is(notice.length, 1, fallback.stderr);
  t.regex(notice[0]!, /using the wasm backend/);
  t.regex(notice[0]!, /QUICBRIDGE_QUIET=1/);

  const quiet = await node(['echo.mjs'], { QUICBRIDGE_QUIET: '1' });
  t.deepEqual(quiet.result, { backend: 'wasm', echoed: 'ping' });
  t.notRegex(quiet.stderr, /quicbridge:/);

  const forced = await node(['echo.mjs'], { QUICBRIDGE_BACKEND: 'native' });
  const error = forced.result.error as { code: string; message: string };
  t.is(error.code, 'ERR_QUIC_BACKEND_UNAVAILABLE');
  t.true(error.message.includes(path.join(prebuilds, 'linux-x64', 'quicbridge.napi.glibc.node')), error.message);
  t.regex(error.message, /linux-x64 \(glibc\)/);
  t.regex(error.message, /QUICBRIDGE_BACKEND=wasm/);
});

for (const resolution of ['node16', 'bundler'] as const) {
  test.serial(`types resolve in a consumer compiled with moduleResolution ${resolution}`, async (t) => {
    const dir = path.join(project, `types-${resolution}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, target: 'ES2022', lib: ['ES2022', 'ESNext.Disposable'], types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')],
          module: resolution === 'node16' ? 'node16' : 'esnext', moduleResolution: resolution,
        },
        include: ['*.ts', '*.cts'],
      }),
    );
    fs.writeFileSync(
      path.join(dir, 'consumer.ts'),
      `import { connect, QuicError, type ConnectionStats, type QuicConnection } from 'quicbridge';
export async function rtt(host: string, ca: string): Promise<number> {
  const connection: QuicConnection = await connect({ host, port: 4433, ca, alpn: 'h3' });
  const stats: ConnectionStats = connection.stats;
  if (!(stats.smoothedRttMs >= 0)) throw new QuicError('ERR_QUIC_INVALID_STATE', 'no RTT');
  await connection.close(0, 'done');
  return stats.smoothedRttMs;
}
`,
    );
    fs.writeFileSync(
      path.join(dir, 'agentic.ts'),
      `import { createQuicMessage, QuicClient, QuicConnectionPool, type QuicConfig, type QuicMessage, type QuicStats, WasmQuicClient } from 'quicbridge/agentic-flow';
export async function send(addr: string, config: QuicConfig): Promise<QuicStats> {
  const message: QuicMessage = createQuicMessage('id', 'task', new Uint8Array([1]), { priority: 1 });
  const client = new WasmQuicClient({ ca_path: '/tmp/ca.pem' });
  await client.sendMessage(addr, message);
  const pool = new QuicConnectionPool(new QuicClient(config), 4);
  const connection = await pool.getConnection('localhost', 4433);
  return connection.quic.stats.bytesSent > 0 ? new QuicClient(config).getStats() : Promise.reject(new Error('no bytes'));
}
`,
    );
    if (resolution === 'node16') {
      fs.writeFileSync(
        path.join(dir, 'legacy.cts'),
        `import quicbridge = require('quicbridge');\nimport agentic = require('quicbridge/agentic-flow');\nexport const listen: typeof quicbridge.listen = quicbridge.listen;\nexport const Server: typeof agentic.QuicServer = agentic.QuicServer;\n`,
      );
    }
    // `type: module` comes from the project's package.json above this directory.
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await t.notThrowsAsync(run(process.execPath, [tsc, '-p', dir], { cwd: dir, env: bareEnv() }));
  });
}
