/** What the benchmark runs: workloads, peers, metrics and their sizes. */

export const WORKLOADS = ['bulk', 'rr', 'concurrency', 'handshake', 'datagrams', 'idle-memory', 'churn-memory'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export const PEERS = ['native', 'wasm', 'quinn-rust', 'quinn-rust-1thread', 'node-http2', 'matrixai-quic', 'bun-quic', 'deno-quic'] as const;
export type PeerName = (typeof PEERS)[number];
/**
 * The Rust binary (crates/bench): quicbridge-core on tokio's multi-thread
 * runtime, and on one current-thread runtime — what the core can do on the
 * one thread an event loop gives it.
 */
export type RustPeerName = 'quinn-rust' | 'quinn-rust-1thread';
export function isRustPeer(peer: PeerName): peer is RustPeerName {
  return peer === 'quinn-rust' || peer === 'quinn-rust-1thread';
}
/**
 * Peers written in TypeScript, run by bench/child.ts in a JavaScript
 * runtime (Node, Bun or Deno: bench/runtimes.ts).
 */
export type JsPeerName = Exclude<PeerName, RustPeerName>;

/** The ALPN protocol every QUIC peer of the benchmark speaks. */
export const ALPN = 'quicbridge-bench';
/** The name in the benchmark's server certificate. */
export const SERVER_NAME = 'localhost';

export type Better = 'higher' | 'lower';

export interface MetricSpec {
  metric: string;
  unit: string;
  better: Better;
  /** Column heading in the table. */
  label: string;
  /** No ratios for this metric (it can be 0 or negative). */
  noRatio?: boolean;
}

export interface Params {
  quick: boolean;
  bulk: { bytes: number; cappedBytes: number; warmupBytes: number; samples: number; warmup: number };
  rr: { requests: number; samples: number; warmup: number };
  concurrency: { streams: number; requests: number; samples: number; warmup: number };
  handshake: { connections: number; parallel: number; samples: number; warmup: number };
  datagrams: { size: number; durationMs: number; samples: number; warmup: number };
  idle: { counts: [number, number]; budgetMs: number };
  churn: { small: number; large: number; parallel: number; budgetMs: number };
  /** A sample (one round of a workload) that takes longer than this has stalled. */
  sampleTimeoutMs: number;
  /** A child process that takes longer than this is killed. */
  childTimeoutMs: number;
}

const MiB = 1024 * 1024;

export const FULL: Params = {
  quick: false,
  // @matrixai/quic 2.0.9 moved ~0.9 MB/s here: 256 MiB would take five minutes a sample.
  bulk: { bytes: 256 * MiB, cappedBytes: 8 * MiB, warmupBytes: 32 * MiB, samples: 5, warmup: 1 },
  rr: { requests: 1000, samples: 5, warmup: 1 },
  concurrency: { streams: 100, requests: 5000, samples: 5, warmup: 1 },
  handshake: { connections: 100, parallel: 10, samples: 5, warmup: 1 },
  datagrams: { size: 1200, durationMs: 2000, samples: 5, warmup: 1 },
  idle: { counts: [1000, 10000], budgetMs: 180_000 },
  churn: { small: 1000, large: 100_000, parallel: 10, budgetMs: 300_000 },
  sampleTimeoutMs: 60_000,
  childTimeoutMs: 15 * 60_000,
};

export const QUICK: Params = {
  quick: true,
  bulk: { bytes: 8 * MiB, cappedBytes: 512 * 1024, warmupBytes: 8 * MiB, samples: 3, warmup: 1 },
  rr: { requests: 200, samples: 3, warmup: 1 },
  concurrency: { streams: 100, requests: 500, samples: 3, warmup: 1 },
  handshake: { connections: 20, parallel: 10, samples: 3, warmup: 1 },
  datagrams: { size: 1200, durationMs: 500, samples: 3, warmup: 1 },
  idle: { counts: [200, 600], budgetMs: 30_000 },
  churn: { small: 1000, large: 5000, parallel: 10, budgetMs: 30_000 },
  sampleTimeoutMs: 10_000,
  childTimeoutMs: 90_000,
};

/** The metrics each workload reports, in table order. */
export function metricsOf(workload: WorkloadName, params: Params): MetricSpec[] {
  switch (workload) {
    case 'bulk':
      return [{ metric: 'throughput', unit: 'MB/s', better: 'higher', label: 'throughput' }];
    case 'rr':
      return [
        { metric: 'p50', unit: 'ms', better: 'lower', label: 'p50 latency' },
        { metric: 'p99', unit: 'ms', better: 'lower', label: 'p99 latency' },
      ];
    case 'concurrency':
      return [{ metric: 'throughput', unit: 'req/s', better: 'higher', label: `${params.concurrency.streams} streams` }];
    case 'handshake':
      return [
        { metric: 'conn/s', unit: 'conn/s', better: 'higher', label: 'new connections' },
        { metric: 'ttfb-full', unit: 'ms', better: 'lower', label: 'first byte, full handshake (p50)' },
        { metric: 'ttfb-0rtt', unit: 'ms', better: 'lower', label: 'first byte, resumed 0-RTT (p50)' },
      ];
    case 'datagrams':
      return [
        { metric: 'delivered', unit: 'dgram/s', better: 'higher', label: `${params.datagrams.size}-byte datagrams delivered` },
        { metric: 'loss', unit: '%', better: 'lower', label: 'offered but lost', noRatio: true },
      ];
    case 'idle-memory':
      return params.idle.counts.map((n) => ({
        metric: `rss/conn@${n}`,
        unit: 'KiB',
        better: 'lower' as const,
        label: `server RSS per connection, ${n} idle`,
      }));
    case 'churn-memory':
      return [
        { metric: `rss@${params.churn.small}`, unit: 'MiB', better: 'lower', label: `RSS after ${params.churn.small} streams` },
        { metric: `rss@${params.churn.large}`, unit: 'MiB', better: 'lower', label: `RSS after ${params.churn.large} streams` },
        { metric: 'growth', unit: 'MiB', better: 'lower', label: 'growth', noRatio: true },
      ];
  }
}

/** The one figure per workload that the chart shows. */
export function headlineOf(workload: WorkloadName, params: Params): string {
  switch (workload) {
    case 'rr':
      return 'p50';
    case 'handshake':
      return 'conn/s';
    case 'datagrams':
      return 'delivered';
    case 'idle-memory':
      return `rss/conn@${params.idle.counts[1]}`;
    case 'churn-memory':
      return `rss@${params.churn.large}`;
    default:
      return 'throughput';
  }
}

export const WORKLOAD_TITLES: Record<WorkloadName, string> = {
  bulk: 'bulk — one stream, client → server',
  rr: 'rr — 1 KiB request, 1 KiB response, a new stream each, one at a time',
  concurrency: 'concurrency — 1 KiB request/response streams, 100 in flight on one connection',
  handshake: 'handshake — new connections',
  datagrams: 'datagrams — unreliable datagrams, client → server',
  'idle-memory': 'idle-memory — server RSS per idle connection (server in its own process)',
  'churn-memory': 'churn-memory — RSS after many short streams on one connection',
};
