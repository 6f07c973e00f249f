/**
 * idle-memory: the server of a peer runs alone in its process and holds
 * idle connections made from another process; its RSS growth over its own
 * baseline (taken after a warm-up of a few connections made and closed, and
 * after full garbage collection for JavaScript servers) divided by the number of
 * connections it holds is the cost of an idle connection.
 *
 * Clients: for the QUIC servers, the quinn-rust binary (one endpoint, many
 * connections, keep-alives every 5 s so that none idles out); for
 * node-http2, a Node process of HTTP/2 sessions. The client does not affect
 * the measured process except through the connections themselves.
 */

import type { Params, PeerName } from '../config';
import { ALPN, isRustPeer } from '../config';
import type { PkiFiles } from '../pki';
import type { Report } from '../results';
import { commonArgs } from '../rust';
import { peerCommand } from '../runtimes';
import { LineProcess, nodeArgs } from '../spawn';
import { errorMessage, type Progress, sleep } from './common';

/** Connections opened and closed before the baseline is taken. */
const WARMUP_CONNECTIONS = 20;
/** RSS that moves less than this between two measurements half a second apart has settled. */
const SETTLED_BYTES = 256 * 1024;

interface Measure {
  connections: number;
  rss: number;
}

function field<T>(name: string, check: (v: unknown) => v is T): (line: unknown) => T | undefined {
  return (line) => {
    if (typeof line !== 'object' || line === null) return undefined;
    const value = (line as Record<string, unknown>)[name];
    if (typeof (line as { error?: unknown }).error === 'string') {
      throw new Error((line as { error: string }).error);
    }
    return check(value) ? value : undefined;
  };
}

const isNumber = (v: unknown): v is number => typeof v === 'number';
const isTrue = (v: unknown): v is true => v === true;

function asMeasure(line: unknown): Measure | undefined {
  if (typeof line !== 'object' || line === null) return undefined;
  const { connections, rss } = line as Record<string, unknown>;
  return typeof connections === 'number' && typeof rss === 'number' ? { connections, rss } : undefined;
}

export async function idleMemory(
  peer: PeerName,
  params: Params,
  pkiDir: string,
  pki: PkiFiles,
  rustBin: string,
  report: Report,
  progress: Progress,
): Promise<void> {
  const counts = params.idle.counts;
  const metric = (n: number): string => `rss/conn@${n}`;
  const max = Math.max(...counts);
  const { command, args } =
    isRustPeer(peer)
      ? { command: rustBin, args: ['idle-server', ...commonArgs(peer, pki)] }
      : peerCommand(peer, 'bench/idle-server.ts', [peer, pkiDir, String(max + 100)], { exposeGc: true, readDir: pkiDir });
  const server = new LineProcess(command, args);
  let clients: LineProcess | undefined;
  let next = 0;
  try {
    const port = await server.next(field('port', isNumber), 30_000, 'server start');
    const measure = async (): Promise<Measure> => {
      server.send('measure');
      return server.next(asMeasure, 60_000, 'server measure');
    };
    // RSS keeps moving for a while after connections come or go (draining
    // connections freed, heaps returning pages): measure until it settles.
    const settled = async (): Promise<Measure> => {
      let last = await measure();
      for (let i = 0; i < 10; i++) {
        await sleep(500);
        const now = await measure();
        if (Math.abs(now.rss - last.rss) <= SETTLED_BYTES && now.connections === last.connections) return now;
        last = now;
      }
      return last;
    };
    let connecting = 0;
    let target = 0;
    const onLine = (line: unknown): void => {
      const n = (line as { connecting?: unknown } | null)?.connecting;
      if (typeof n === 'number') {
        connecting = n;
        progress(`${n} of ${target} idle connections`);
      }
    };
    clients =
      peer === 'node-http2'
        ? new LineProcess(process.execPath, nodeArgs('bench/h2-idle-clients.ts', [String(port), pkiDir]), onLine)
        : new LineProcess(rustBin, ['idle-clients', '--port', String(port), '--alpn', ALPN, ...commonArgs('quinn-rust', pki)], onLine);
    await clients.next(field('ready', isTrue), 30_000, 'clients start');
    // Warm-up: a few connections made and closed first, so that what the
    // server allocates once (code paths, pools, JIT) is in its baseline.
    progress(`warm-up: ${WARMUP_CONNECTIONS} connections`);
    clients.send(`connect ${WARMUP_CONNECTIONS}`);
    await clients.next(field('connected', isNumber), params.idle.budgetMs, 'warm-up connections');
    clients.send('drop');
    await clients.next(field('dropped', isNumber), 30_000, 'closing the warm-up connections');
    let baseline = await measure();
    for (let waited = 0; baseline.connections > 0 && waited < 5000; waited += 500) {
      await sleep(500);
      baseline = await measure();
    }
    baseline = await settled();
    // A server that keeps connections its client closed keeps them throughout:
    // they are part of its baseline (and said so).
    const lingering =
      baseline.connections > 0 ? `; ${baseline.connections} of the ${WARMUP_CONNECTIONS} warm-up connections, closed by the client, were still held by the server` : '';
    for (; next < counts.length; next++) {
      const n = counts[next] as number;
      target = n;
      progress(`${n} idle connections`);
      const start = performance.now();
      clients.send(`connect ${n}`);
      let connected: number;
      try {
        connected = await clients.next(field('connected', isNumber), params.idle.budgetMs, `connecting ${n}`);
      } catch (error) {
        throw new Error(`${errorMessage(error)}: ${connecting} of ${n} connections were established in the time allowed`);
      }
      // A few failures (the server's doing) still leave something to measure,
      // per connection the server holds.
      if (connected < n * 0.95) throw new Error(`only ${connected} of ${n} connections could be established`);
      // Let the server take in the last ones and settle.
      let held = await measure();
      for (let waited = 0; held.connections - baseline.connections < connected && waited < 10_000; waited += 500) {
        await sleep(500);
        held = await measure();
      }
      held = await settled();
      const holding = held.connections - baseline.connections;
      if (holding < n * 0.95) throw new Error(`the server holds only ${holding} of ${n} connections`);
      progress(`${n} idle connections: ${Math.round((performance.now() - start) / 1000)} s`);
      const shortfall =
        holding === n ? '' : `of the ${n} connections asked for, the client established ${connected} and the server held ${holding}`;
      const note = (shortfall + lingering).replace(/^; /, '');
      report.samples(metric(n), 'KiB', 'lower', [(held.rss - baseline.rss) / holding / 1024], note || undefined);
    }
  } catch (error) {
    for (; next < counts.length; next++) report.na(metric(counts[next] as number), errorMessage(error));
  } finally {
    clients?.send('quit');
    server.send('quit');
    await Promise.race([Promise.all([clients?.exited, server.exited]), sleep(5000)]);
    await clients?.stop();
    await server.stop();
  }
}
