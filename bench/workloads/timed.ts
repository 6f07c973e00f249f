/**
 * The timed workloads for a peer that runs in Node, client and server in
 * this (child) process. What each measures: docs/performance.md.
 */

import type { Params } from '../config';
import type { Peer, PeerConnection, PeerServer } from '../peers/types';
import { bulk as sendBulk, exchange, requestBytes } from '../protocol';
import type { Report } from '../results';
import { percentile } from '../stats';
import { errorMessage, formatBytes, inParallel, type Progress, rounds, sleep, withTimeout } from './common';

const SMALL = 1024;

async function withPair<T>(peer: Peer, run: (server: PeerServer, connection: PeerConnection) => Promise<T>): Promise<T> {
  const server = await peer.listen();
  try {
    const connection = await peer.connect(server.port);
    try {
      return await run(server, connection);
    } finally {
      await connection.close().catch(() => {});
    }
  } finally {
    await server.close().catch(() => {});
  }
}

export async function bulk(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { samples: count, warmup, warmupBytes } = params.bulk;
  const capped = peer.name === 'matrixai-quic';
  const bytes = capped ? params.bulk.cappedBytes : params.bulk.bytes;
  const samples: number[] = [];
  await withPair(peer, async (_server, connection) => {
    for (const round of rounds({ samples: count, warmup })) {
      const size = round.warmup ? Math.min(bytes, warmupBytes) : bytes;
      progress(`${round.label} (${formatBytes(size)})`);
      // A sample may take as long as moving its bytes at 1 MB/s would.
      const timeout = Math.max(params.sampleTimeoutMs, size / 1000);
      const ms = await withTimeout(sendBulk(() => connection.openStream(), size), timeout, `${round.label} of ${formatBytes(size)}`);
      if (!round.warmup) samples.push(size / 1e6 / (ms / 1000));
    }
  });
  report.samples(
    'throughput',
    'MB/s',
    'higher',
    samples,
    capped ? `${formatBytes(bytes)} per sample, not ${formatBytes(params.bulk.bytes)}: at its pace a full sample would take minutes` : undefined,
  );
}

export async function rr(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { requests, samples, warmup } = params.rr;
  const request = requestBytes(SMALL, SMALL);
  const p50: number[] = [];
  const p99: number[] = [];
  await withPair(peer, async (_server, connection) => {
    for (const round of rounds({ samples, warmup })) {
      progress(`${round.label} (${requests} requests)`);
      const latencies: number[] = [];
      await withTimeout(
        (async () => {
          for (let i = 0; i < requests; i++) {
            latencies.push((await exchange(() => connection.openStream(), request, SMALL)).total);
          }
        })(),
        params.sampleTimeoutMs,
        `${round.label} (${requests} requests)`,
      );
      if (!round.warmup) {
        p50.push(percentile(latencies, 0.5));
        p99.push(percentile(latencies, 0.99));
      }
    }
  });
  report.samples('p50', 'ms', 'lower', p50);
  report.samples('p99', 'ms', 'lower', p99);
}

export async function concurrency(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { streams, requests, samples, warmup } = params.concurrency;
  const request = requestBytes(SMALL, SMALL);
  const rates: number[] = [];
  await withPair(peer, async (_server, connection) => {
    for (const round of rounds({ samples, warmup })) {
      progress(`${round.label} (${requests} requests, ${streams} at a time)`);
      let done = 0;
      const start = performance.now();
      await withTimeout(
        inParallel(requests, streams, async () => {
          await exchange(() => connection.openStream(), request, SMALL);
          done += 1;
        }),
        params.sampleTimeoutMs,
        `${round.label}: ${requests} requests, ${streams} at a time`,
      ).catch((error: unknown) => {
        throw new Error(`${errorMessage(error)}; ${done} of ${requests} requests had completed`);
      });
      if (!round.warmup) rates.push(requests / ((performance.now() - start) / 1000));
    }
  });
  report.samples('throughput', 'req/s', 'higher', rates);
}

export async function handshake(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { connections, parallel, samples, warmup } = params.handshake;
  const request = requestBytes(SMALL, SMALL);

  // New connections per second: `parallel` handshakes in flight at a time;
  // each connection is closed as soon as it is established (not waited for).
  try {
    const server = await peer.listen();
    try {
      const rates: number[] = [];
      for (const round of rounds({ samples, warmup })) {
        progress(`connections/s ${round.label} (${connections} connections, ${parallel} at a time)`);
        const closing: Promise<void>[] = [];
        const start = performance.now();
        await withTimeout(
          inParallel(connections, parallel, async () => {
            const connection = await peer.connect(server.port);
            closing.push(connection.close().catch(() => {}));
          }),
          params.sampleTimeoutMs,
          `${round.label} of ${connections} connections`,
        );
        const elapsed = performance.now() - start;
        await Promise.all(closing);
        if (!round.warmup) rates.push(connections / (elapsed / 1000));
      }
      report.samples('conn/s', 'conn/s', 'higher', rates);
    } finally {
      await server.close().catch(() => {});
    }
  } catch (error) {
    report.na('conn/s', errorMessage(error));
  }

  // Time to the first response byte on a new connection, full handshake.
  try {
    const server = await peer.listen();
    try {
      const medians: number[] = [];
      for (const round of rounds({ samples, warmup })) {
        progress(`first byte, full handshake, ${round.label} (${connections} connections)`);
        const times: number[] = [];
        // Closing drains for a few round-trip timeouts: not waited for here.
        const closing: Promise<void>[] = [];
        await withTimeout(
          (async () => {
            for (let i = 0; i < connections; i++) {
              const start = performance.now();
              const connection = await peer.connect(server.port);
              times.push((await exchange(() => connection.openStream(), request, SMALL, start)).firstByte);
              closing.push(connection.close().catch(() => {}));
            }
          })(),
          params.sampleTimeoutMs,
          `${round.label} of ${connections} connections`,
        );
        await Promise.all(closing);
        if (!round.warmup) medians.push(percentile(times, 0.5));
      }
      report.samples('ttfb-full', 'ms', 'lower', medians);
    } finally {
      await server.close().catch(() => {});
    }
  } catch (error) {
    report.na('ttfb-full', errorMessage(error));
  }

  await zeroRtt(peer, params, report, progress);
}

/** Time to the first response byte on a resumed connection whose request went as 0-RTT data. */
async function zeroRtt(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { connections, samples, warmup } = params.handshake;
  const request = requestBytes(SMALL, SMALL);
  if (peer.noEarlyData) {
    report.na('ttfb-0rtt', peer.noEarlyData);
    return;
  }
  try {
    const server = await peer.listen({ earlyData: true });
    try {
      // A first, full handshake leaves a session ticket behind.
      const first = await peer.connect(server.port, { earlyData: true });
      await exchange(() => first.openStream(), request, SMALL);
      const support = first.earlyData();
      if (typeof support !== 'string') await support;
      await first.close();
      if (typeof support === 'string') {
        report.na('ttfb-0rtt', support);
        return;
      }
      const medians: number[] = [];
      const states = new Map<string, number>();
      for (const round of rounds({ samples, warmup })) {
        progress(`first byte, resumed with 0-RTT, ${round.label} (${connections} connections)`);
        const times: number[] = [];
        const closing: Promise<void>[] = [];
        await withTimeout(
          (async () => {
            for (let i = 0; i < connections; i++) {
              const start = performance.now();
              const connection = await peer.connect(server.port, { earlyData: true });
              times.push((await exchange(() => connection.openStream(), request, SMALL, start)).firstByte);
              const state = await connection.earlyData();
              states.set(state, (states.get(state) ?? 0) + 1);
              // The server sends session tickets once the handshake is
              // complete, which with 0-RTT is after the response: one more
              // exchange (not timed) lets them arrive, so that the next
              // connection can resume again.
              await exchange(() => connection.openStream(), requestBytes(4, 0), 0);
              closing.push(connection.close().catch(() => {}));
            }
          })(),
          params.sampleTimeoutMs,
          `${round.label} of ${connections} connections`,
        );
        await Promise.all(closing);
        if (!round.warmup) medians.push(percentile(times, 0.5));
      }
      const accepted = states.get('accepted') ?? 0;
      const total = [...states.values()].reduce((a, b) => a + b, 0);
      if (accepted !== total) {
        const summary = [...states].map(([state, n]) => `${n} ${state}`).join(', ');
        const hint = states.has('notAttempted') ? '; notAttempted: the client had no session it could resume' : '';
        report.na('ttfb-0rtt', `0-RTT was not accepted on every resumed connection (${summary}${hint})`);
      } else {
        report.samples('ttfb-0rtt', 'ms', 'lower', medians);
      }
    } finally {
      await server.close().catch(() => {});
    }
  } catch (error) {
    report.na('ttfb-0rtt', errorMessage(error));
  }
}

/** Datagrams a sender keeps in flight (unreported by the server): well inside a 1 MiB send queue. */
const DATAGRAM_WINDOW = 256;
/** A sender that hears nothing for this long writes off what it has in flight. */
const DATAGRAM_STALL_MS = 20;

export async function datagrams(peer: Peer, params: Params, report: Report, progress: Progress): Promise<void> {
  const { size, durationMs, samples, warmup } = params.datagrams;
  const na = (reason: string): void => {
    report.na('delivered', reason);
    report.na('loss', reason);
  };
  if (peer.noDatagrams) {
    na(peer.noDatagrams);
    return;
  }
  const server = await peer.listen({ datagrams: true });
  try {
    const connection = await peer.connect(server.port, { datagrams: true });
    try {
      const sender = connection.datagrams();
      if (typeof sender === 'string') {
        na(sender);
        return;
      }
      // The largest datagram can grow after the handshake (MTU discovery).
      for (let waited = 0; (sender.maxSize() ?? 0) < size && waited < 3000; waited += 50) await sleep(50);
      const max = sender.maxSize() ?? 0;
      if (max < size) {
        const why = peer.datagramSizeLimit ? `: ${peer.datagramSizeLimit}` : '';
        na(`the connection's largest datagram is ${max} bytes, below ${size}${why}`);
        return;
      }
      const payload = Buffer.alloc(size, 7);
      const rates: number[] = [];
      const losses: number[] = [];
      let sent = 0;
      // Datagrams the sender has given up waiting for (lost, or their report was).
      let writtenOff = 0;
      for (const round of rounds({ samples, warmup })) {
        progress(`${round.label} (${durationMs} ms)`);
        const before = server.datagramsReceived();
        const sentBefore = sent;
        const start = performance.now();
        while (performance.now() - start < durationMs) {
          const inFlight = sent - Math.max(sender.acked(), writtenOff);
          if (inFlight < DATAGRAM_WINDOW) {
            const burst = Math.min(64, DATAGRAM_WINDOW - inFlight);
            for (let i = 0; i < burst; i++) sender.send(payload);
            sent += burst;
            await new Promise<void>((resolve) => setImmediate(resolve));
          } else if (!(await sender.nextAck(DATAGRAM_STALL_MS))) {
            writtenOff = sent;
          }
        }
        // Let what is in flight arrive.
        await sleep(300);
        const received = server.datagramsReceived() - before;
        const offered = sent - sentBefore;
        if (!round.warmup) {
          rates.push(received / (durationMs / 1000));
          losses.push((100 * (offered - Math.min(offered, received))) / offered);
        }
      }
      report.samples('delivered', 'dgram/s', 'higher', rates);
      report.samples('loss', '%', 'lower', losses);
    } finally {
      await connection.close().catch(() => {});
    }
  } finally {
    await server.close().catch(() => {});
  }
}
