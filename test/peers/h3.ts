/**
 * HTTP/3 servers and GET clients of the independent peers (ngtcp2's only
 * mode, and aioquic's and quic-go's HTTP/3 programs), for HTTP/3 interop:
 * serve a directory, fetch a URL to a file. The command lines are the ones
 * documented in scripts/install-peers.sh.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { REPO_ROOT, quicgoStatus, readStatus } from './drivers';

export type H3PeerName = 'ngtcp2' | 'quicgo' | 'aioquic';
export const H3_PEERS: H3PeerName[] = ['ngtcp2', 'quicgo', 'aioquic'];

export interface H3ServerOptions {
  dir: string;
  cert: string;
  key: string;
}

export interface H3Server {
  port: number;
  stop(): Promise<void>;
}

export interface H3GetOptions {
  url: string;
  ca: string;
  /** Where the body is saved (a fresh, empty directory). */
  outDir: string;
  timeoutMs?: number;
}

export interface H3GetResult {
  ok: boolean;
  bytes?: number;
  sha256?: string;
  error?: string;
}

/** A UDP port that was free a moment ago, for servers that cannot report the one they picked. */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const { port } = s.address();
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/** Waits until some socket is bound to UDP `port` (Linux: /proc/net/udp). */
async function waitForUdpPort(port: number, ms = 20_000): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      if (existsSync(f) && readFileSync(f, 'utf8').includes(hex)) return;
    }
    await sleep(50);
  }
  throw new Error(`nothing listens on UDP port ${port} after ${ms} ms`);
}

function startProcess(cmd: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { stop(): Promise<void>; stderr(): string } {
  const [exe, ...args] = cmd as [string, ...string[]];
  const proc = spawn(exe, args, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  proc.stderr.on('data', (c: Buffer) => (tail = (tail + c.toString()).slice(-4096)));
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  return {
    stderr: () => tail,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

function runProcess(cmd: string[], timeoutMs: number, cwd = REPO_ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [exe, ...args] = cmd as [string, ...string[]];
  const proc = spawn(exe, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4096)));
  const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  return new Promise((res) =>
    proc.once('close', (code) => {
      clearTimeout(killer);
      res({ code, stdout, stderr });
    }),
  );
}

async function serveFixedPort(cmd: (port: number) => string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<H3Server> {
  const port = await freeUdpPort();
  const proc = startProcess(cmd(port), opts);
  try {
    await waitForUdpPort(port);
  } catch (e) {
    await proc.stop();
    throw new Error(`${(e as Error).message}: ${proc.stderr()}`);
  }
  return { port, stop: () => proc.stop() };
}

/** The one file a client saved in `outDir`, hashed. */
function savedBody(outDir: string): { bytes: number; sha256: string } | undefined {
  const [name] = readdirSync(outDir);
  if (!name) return undefined;
  const body = readFileSync(join(outDir, name));
  return { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
}

export const h3: Record<
  H3PeerName,
  { status(): ReturnType<typeof readStatus>; serve(o: H3ServerOptions): Promise<H3Server>; get(o: H3GetOptions): Promise<H3GetResult> }
> = {
  ngtcp2: {
    status: () => readStatus('ngtcp2'),
    serve: (o) => serveFixedPort((port) => [readStatus('ngtcp2').server as string, '-q', '-d', o.dir, '127.0.0.1', String(port), o.key, o.cert]),
    async get(o) {
      // gtlsclient cannot be given a CA (and does not verify); see install-peers.sh.
      const u = new URL(o.url);
      const r = await runProcess(
        [readStatus('ngtcp2').client as string, '-q', '--exit-on-all-streams-close', '--download', o.outDir, '127.0.0.1', u.port, o.url],
        o.timeoutMs ?? 60_000,
      );
      const body = savedBody(o.outDir);
      return r.code === 0 && body ? { ok: true, ...body } : { ok: false, error: `gtlsclient exit ${r.code}: ${r.stderr.slice(-300)}` };
    },
  },
  quicgo: {
    status: quicgoStatus,
    async serve(o) {
      const bin = readStatus('quicgo').bin as string;
      const proc = spawn(bin, ['h3-server', '--cert', o.cert, '--key', o.key, '--dir', o.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      const port = await new Promise<number>((res, rej) => {
        proc.stdout.once('data', (c: Buffer) => res((JSON.parse(c.toString().split('\n')[0] as string) as { port: number }).port));
        proc.once('exit', (code) => rej(new Error(`quicgo h3-server exited ${code}`)));
      });
      const exited = new Promise<void>((res) => proc.once('exit', () => res()));
      return {
        port,
        async stop() {
          proc.kill('SIGTERM');
          await exited;
        },
      };
    },
    async get(o) {
      const r = await runProcess(
        [readStatus('quicgo').bin as string, 'h3-get', '--ca', o.ca, '--out', join(o.outDir, 'body'), o.url],
        o.timeoutMs ?? 60_000,
      );
      try {
        const res = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { ok: boolean; status?: number; error?: string };
        const body = savedBody(o.outDir);
        return res.ok && res.status === 200 && body ? { ok: true, ...body } : { ok: false, error: res.error ?? `HTTP ${res.status}` };
      } catch {
        return { ok: false, error: `h3-get exit ${r.code}: ${r.stderr.slice(-300)}` };
      }
    },
  },
  aioquic: {
    status() {
      const s = readStatus('aioquic');
      if (s.ok && !(s.http3Server && s.http3Client)) return { ...s, ok: false, reason: 'aioquic HTTP/3 examples missing (sdist not fetched)' };
      return s;
    },
    serve(o) {
      const s = readStatus('aioquic');
      const server = s.http3Server as string;
      // The example imports its demo app (demo.py) from its own directory; STATIC_ROOT is served at /.
      return serveFixedPort(
        (port) => [s.python as string, server, '--host', '127.0.0.1', '--port', String(port), '-c', o.cert, '-k', o.key],
        { cwd: dirname(server), env: { STATIC_ROOT: o.dir } },
      );
    },
    async get(o) {
      const s = readStatus('aioquic');
      const r = await runProcess(
        [s.python as string, s.http3Client as string, '--ca-certs', o.ca, '--output-dir', o.outDir, o.url],
        o.timeoutMs ?? 60_000,
      );
      const body = savedBody(o.outDir);
      return r.code === 0 && body ? { ok: true, ...body } : { ok: false, error: `http3_client exit ${r.code}: ${r.stderr.slice(-300)}` };
    },
  },
};
