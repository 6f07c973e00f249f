import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import type { BackendName } from '../backend';
import { generateCertificate } from '../certificate';
import { connect } from '../quic-endpoint';
import { listen } from '../server';
import { backendStatus } from '../loader';
import { packageRoot } from '../package-root';
import { backendOf, parse } from './common';
import { ExitCode } from './exit-codes';

export const benchHelp = `usage: quicbridge bench [--backend B] [--json]

A quick measurement of each backend that loads here, on loopback: bulk
transfer (64 MiB on one stream), request/response latency (1 KiB each way,
a new stream each, 500 times) and handshakes (100 connections). Every
figure is measured in this run. The full comparison with quinn in Rust,
node:http2 and @matrixai/quic is \`npm run bench\` in a source checkout.`;

interface Result {
  backend: BackendName;
  bulkMBps: number;
  rrP50Ms: number;
  rrP99Ms: number;
  handshakesPerSecond: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function measure(backend: BackendName): Promise<Result> {
  const { cert, key } = generateCertificate({ backend });
  const server = await listen({ address: '127.0.0.1', cert, key, alpn: 'bench', backend, transport: { maxConcurrentBidiStreams: 1000 } }, async (connection) => {
    for await (const stream of connection.streams()) {
      stream.on('error', () => {});
      // /sink streams (first byte 0) are counted and answered with their size; others are echoed.
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      stream.end(body[0] === 0 ? Buffer.from(String(body.length)) : body);
    }
  });
  const options = { host: '127.0.0.1', port: server.address.port, servername: 'localhost', ca: cert, alpn: 'bench', backend };
  const connection = await connect(options);

  const block = randomBytes(1 << 20);
  block[0] = 0;
  const bulkBytes = 64 << 20;
  const bulkStart = now();
  const sink = await connection.openStream();
  const reply = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of sink) chunks.push(chunk as Buffer);
    return Number(Buffer.concat(chunks).toString());
  })();
  for (let sent = 0; sent < bulkBytes; sent += block.length) {
    if (!sink.write(block)) await new Promise((resolve) => sink.once('drain', resolve));
  }
  sink.end();
  if ((await reply) !== bulkBytes) throw new Error('bulk transfer lost bytes');
  const bulkMBps = bulkBytes / 1e6 / ((now() - bulkStart) / 1000);

  const request = randomBytes(1024);
  request[0] = 1;
  const latencies: number[] = [];
  for (let i = 0; i < 550; i++) {
    const start = now();
    const stream = await connection.openStream();
    stream.end(request);
    let received = 0;
    for await (const chunk of stream) received += (chunk as Buffer).length;
    if (received !== request.length) throw new Error('request/response lost bytes');
    if (i >= 50) latencies.push(now() - start); // the first 50 warm up
  }
  latencies.sort((a, b) => a - b);
  await connection.close();

  const handshakes = 100;
  const handshakeStart = now();
  for (let i = 0; i < handshakes; i++) await (await connect(options)).close();
  const handshakesPerSecond = handshakes / ((now() - handshakeStart) / 1000);
  await server.close();
  return { backend, bulkMBps, rrP50Ms: percentile(latencies, 0.5), rrP99Ms: percentile(latencies, 0.99), handshakesPerSecond };
}

export async function bench(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } }, 0);
  if (values.help) {
    console.log(benchHelp);
    return ExitCode.ok;
  }
  const asked = backendOf(values);
  const backends = backendStatus()
    .filter((b) => b.loaded && (asked === undefined || b.name === asked))
    .map((b) => b.name);
  if (backends.length === 0) {
    console.error(`quicbridge bench: ${asked ?? 'no'} backend loads here (see quicbridge doctor)`);
    return ExitCode.failure;
  }
  const results: Result[] = [];
  for (const backend of backends) {
    process.stderr.write(`measuring the ${backend} backend…\n`);
    results.push(await measure(backend));
  }
  if (values.json) {
    console.log(JSON.stringify({ date: new Date().toISOString(), results }));
  } else {
    console.log('| backend | bulk, MB/s | rr p50, ms | rr p99, ms | handshakes/s |');
    console.log('|---|---|---|---|---|');
    for (const r of results) {
      console.log(`| ${r.backend} | ${r.bulkMBps.toFixed(1)} | ${r.rrP50Ms.toFixed(3)} | ${r.rrP99Ms.toFixed(3)} | ${r.handshakesPerSecond.toFixed(0)} |`);
    }
    if (fs.existsSync(path.join(packageRoot, 'bench', 'main.ts'))) console.log('\nthe full benchmark: npm run bench');
  }
  return ExitCode.ok;
}
