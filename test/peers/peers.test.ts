/**
 * The independent QUIC peers against each other, every server × every
 * client × every case, on loopback: proof that the peers (and this harness)
 * work before quicbridge is plugged in as one more peer.
 *
 * A cell passes, fails, is n/a (a peer cannot do that case: the reason comes
 * from the capability tables in drivers.ts) or skipped (a peer is not
 * installed: the reason comes from scripts/install-peers.sh). n/a and
 * skipped cells are ava skips, never passes; cells that fail because of a
 * known peer bug are expected failures (`test.failing`). The whole table is
 * logged at the end and written to <cache>/peers/results/peers.{json,md}.
 *
 * Install the peers first: scripts/install-peers.sh
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import test from 'ava';

import { createPki } from '../helpers/certs';
import { type Relay, bytesBeforeValidation, startRelay } from '../helpers/relay';
import {
  CASES,
  type CaseName,
  type ClientOptions,
  type ClientResult,
  PEERS,
  type PeerDriver,
  QUICGO_KEY_UPDATE_NOTE,
  type RunningServer,
  cacheDir,
  drivers,
  knownFailures,
} from './drivers';

type Status = 'pass' | 'fail' | 'known-fail' | 'n/a' | 'skipped';
interface Cell {
  server: string;
  client: string;
  case: CaseName;
  status: Status;
  note: string;
  ms?: number;
}

const MiB = 1024 * 1024;
const CHACHA20 = 'TLS_CHACHA20_POLY1305_SHA256';
const CHACHA_HOW = { restrict: 'restricted to it', prefer: 'preferred it', none: 'offered its defaults' } as const;
const results: Cell[] = [];
const dir = mkdtempSync(join(tmpdir(), 'quicbridge-peers-'));
const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'chain.pem'), key: join(dir, 'key.pem') };

test.before(async () => {
  const pki = await createPki();
  writeFileSync(files.ca, pki.ca.certPem);
  writeFileSync(files.cert, pki.server.chainPem);
  writeFileSync(files.key, pki.server.keyPem);
});

/** Why a cell cannot run, if it cannot: a missing peer (skipped) or a missing capability (n/a). */
function whyNot(server: PeerDriver, client: PeerDriver, c: CaseName): { status: 'skipped' | 'n/a'; note: string } | undefined {
  for (const [role, d] of [
    ['server', server],
    ['client', client],
  ] as const) {
    const s = d.status();
    if (!s.ok) return { status: 'skipped', note: `${d.name}: ${s.reason ?? 'not installed'}` };
    const cap = d[role][c];
    if (cap !== true) return { status: 'n/a', note: `${d.name} ${role}: ${cap}` };
  }
  if (c === 'chacha20' && server.chacha20.server === 'none' && client.chacha20.client === 'none') {
    return { status: 'n/a', note: 'neither side can restrict or prefer TLS_CHACHA20_POLY1305_SHA256' };
  }
  return undefined;
}

const short = (s: string | undefined, n = 300): string => (s ?? '').replace(/\s+/g, ' ').trim().slice(0, n);

function failure(r: ClientResult, server: RunningServer): string {
  const parts = [r.error ? `client: ${short(r.error)}` : `client result: ${short(JSON.stringify(r), 400)}`];
  const exit = server.exited();
  if (exit) parts.push(`server exited (${exit.code ?? exit.signal}): ${short(server.stderr().split('\n').slice(-6).join(' '), 400)}`);
  return parts.join('; ');
}

/** Runs one case; returns pass/fail and a note. */
async function runCase(sd: PeerDriver, cd: PeerDriver, c: CaseName): Promise<{ pass: boolean; note: string }> {
  const server = await sd.startServer({
    cert: files.cert,
    key: files.key,
    alpn: 'echo',
    maxStreams: 100,
    retry: c === 'retry',
    cipher: c === 'chacha20' && sd.chacha20.server !== 'none' ? 'CHACHA20' : undefined,
  });
  let relay: Relay | undefined;
  const base: ClientOptions = { port: server.port, ca: files.ca, mode: 'echo', bytes: 1024, timeoutMs: 20_000 };
  try {
    switch (c) {
      case 'echo-5MiB': {
        const r = await cd.runClient({ ...base, bytes: 5 * MiB });
        const pass = r.ok && r.sha256_sent === r.sha256_echo && r.echoed_bytes === 5 * MiB;
        return { pass, note: pass ? `5 MiB echoed, SHA-256 equal, ${r.elapsed_ms} ms, ${r.cipher ?? ''}` : failure(r, server) };
      }
      case 'streams-2000x32': {
        const r = await cd.runClient({ ...base, mode: 'streams', streams: 2000, streamSize: 32 });
        const pass = r.ok && r.streams_ok === 2000;
        const limit = r.peer_initial_max_streams_bidi !== undefined ? `, server's initial limit ${(r.peer_initial_max_streams_bidi as number)}` : '';
        return { pass, note: pass ? `2000 streams echoed with the server limit at 100${limit}, ${r.elapsed_ms} ms` : failure(r, server) };
      }
      case 'datagrams': {
        const r = await cd.runClient({ ...base, mode: 'datagrams', datagrams: 50 });
        return { pass: r.ok, note: r.ok ? `${r.datagrams_received}/50 datagrams echoed` : failure(r, server) };
      }
      case 'retry': {
        relay = await startRelay({ target: { address: '127.0.0.1', port: server.port } });
        const r = await cd.runClient({ ...base, port: relay.address.port });
        const retries = relay.stats().toClient.types.Retry ?? 0;
        const bytes = bytesBeforeValidation(relay.log);
        const amplification = bytes.toClient <= 3 * bytes.toServer;
        const pass = r.ok && retries > 0 && amplification;
        const seen = `Retry packets seen: ${retries}; before validation ${bytes.toClient} B to client vs ${bytes.toServer} B to server`;
        return { pass, note: pass ? seen : `${r.ok ? '' : failure(r, server) + '; '}${seen}${amplification ? '' : ' (over 3x)'}` };
      }
      case 'resumption-0rtt': {
        relay = await startRelay({ target: { address: '127.0.0.1', port: server.port } });
        const ticket = join(dir, `${sd.name}-${cd.name}.ticket`);
        rmSync(ticket, { force: true });
        const first = await cd.runClient({ ...base, port: relay.address.port, sessionTicket: ticket });
        if (!first.ok || !existsSync(ticket)) {
          return { pass: false, note: `first connection: ${first.ok ? 'no session ticket saved' : failure(first, server)}` };
        }
        const before = relay.log.length;
        const second = await cd.runClient({ ...base, port: relay.address.port, sessionTicket: ticket });
        const zeroRtt = relay.log.slice(before).filter((e) => e.dir === 'toServer' && e.packets.includes('0-RTT')).length;
        const pass = second.ok && second.resumed === true && second.early_data_accepted === true && zeroRtt > 0;
        const seen = `resumed ${String(second.resumed)}, early data accepted ${String(second.early_data_accepted)}, 0-RTT datagrams seen ${zeroRtt}`;
        return { pass, note: second.ok ? seen : `second connection: ${failure(second, server)}` };
      }
      case 'chacha20': {
        const r = await cd.runClient({ ...base, cipher: cd.chacha20.client !== 'none' ? 'CHACHA20' : undefined });
        // Clients that cannot tell (js-quic) leave it to the server's report.
        for (let i = 0; i < 50 && !r.cipher && server.events.length === 0; i++) await sleep(20);
        const negotiated = r.cipher ?? server.events.at(-1)?.cipher;
        const how = `server ${CHACHA_HOW[sd.chacha20.server]}, client ${CHACHA_HOW[cd.chacha20.client]}`;
        const pass = r.ok && negotiated === CHACHA20;
        return { pass, note: r.ok ? `negotiated ${negotiated ?? 'unknown'} (${how})` : failure(r, server) };
      }
      case 'key-update': {
        const r = await cd.runClient({ ...base, bytes: 5 * MiB, keyUpdate: true });
        const pass = r.ok && r.key_update === true;
        const how = cd.name === 'quicgo' ? QUICGO_KEY_UPDATE_NOTE : 'the client requested it after half the echo';
        return { pass, note: pass ? `key update during a 5 MiB echo: ${how}` : failure(r, server) };
      }
      default:
        throw new Error(`unknown case ${String(c)}`);
    }
  } finally {
    await relay?.close();
    await server.stop();
  }
}

for (const serverName of PEERS) {
  for (const clientName of PEERS) {
    for (const c of CASES) {
      const sd = drivers[serverName];
      const cd = drivers[clientName];
      const title = `${c}: ${clientName} client -> ${serverName} server`;
      const cell = { server: serverName, client: clientName, case: c };
      const not = whyNot(sd, cd, c);
      if (not) {
        results.push({ ...cell, ...not });
        test.skip(`${title} [${not.status}: ${not.note}]`, () => undefined);
        continue;
      }
      const known = knownFailures[`${serverName}>${clientName}>${c}`];
      const define = known ? test.serial.failing : test.serial;
      define(known ? `${title} [known failure]` : title, async (t) => {
        t.timeout(120_000);
        const started = Date.now();
        let outcome: { pass: boolean; note: string };
        try {
          outcome = await runCase(sd, cd, c);
        } catch (e) {
          outcome = { pass: false, note: `harness: ${e instanceof Error ? e.message : String(e)}` };
        }
        const status: Status = outcome.pass ? 'pass' : known ? 'known-fail' : 'fail';
        const note = known && !outcome.pass ? `${known} [observed: ${short(outcome.note, 200)}]` : outcome.note;
        results.push({ ...cell, status, note, ms: Date.now() - started });
        t.log(`${status}: ${note}`);
        t.true(outcome.pass, outcome.note);
      });
    }
  }
}

function table(cells: Cell[]): string {
  const mark: Record<Status, string> = { pass: 'pass', fail: 'FAIL', 'known-fail': 'known-fail', 'n/a': 'n/a', skipped: 'skipped' };
  const lines = [`| server <- client | ${CASES.join(' | ')} |`, `|---|${CASES.map(() => '---').join('|')}|`];
  for (const s of PEERS) {
    for (const cl of PEERS) {
      const row = CASES.map((c) => {
        const cell = cells.find((x) => x.server === s && x.client === cl && x.case === c);
        return cell ? mark[cell.status] : '-';
      });
      lines.push(`| ${s} <- ${cl} | ${row.join(' | ')} |`);
    }
  }
  const notes = cells.filter((c) => c.status !== 'pass').map((c) => `- ${c.case}, ${c.client} -> ${c.server}: ${c.status}: ${c.note}`);
  return [...lines, '', ...notes].join('\n');
}

test.after.always('results table', (t) => {
  const versions = PEERS.map((p) => `${p} ${drivers[p].status().version ?? '(not installed)'}`).join(', ');
  const md = `Peers: ${versions}\n\n${table(results)}\n`;
  const out = join(cacheDir(), 'peers', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'peers.json'), JSON.stringify({ versions, results }, null, 2) + '\n');
  writeFileSync(join(out, 'peers.md'), md);
  t.log(`\n${md}\n(written to ${out}/peers.{md,json})`);
  rmSync(dir, { recursive: true, force: true });
});
