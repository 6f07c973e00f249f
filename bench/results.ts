/**
 * What a measuring process reports, and how one run's results are kept.
 *
 * Every measuring process (a Node child or the Rust binary) prints JSON
 * lines on stdout: `{"progress": "..."}` while it works, then one
 * `{"results": [...]}` of `Measured` entries.
 */

import type { Better, Params, PeerName, WorkloadName } from './config';

/** One metric as a measuring process reports it: samples, or why there are none. */
export type Measured =
  | { metric: string; unit: string; better: Better; samples: number[]; note?: string }
  | { metric: string; na: string };

export interface Spread {
  min: number;
  p25: number;
  p75: number;
  max: number;
}

/** One cell of the run: a workload, a peer, a metric. */
export interface ResultEntry {
  workload: WorkloadName;
  peer: PeerName;
  metric: string;
  unit: string;
  better: Better;
  /** The median of `samples`; null when the peer could not do it. */
  value: number | null;
  samples: number[];
  spread?: Spread;
  /** Why `value` is null. */
  reason?: string;
  note?: string;
}

export interface RunResults {
  date: string;
  command: string;
  quick: boolean;
  /** The sizes and sample counts of this run. */
  params: Params;
  machine: Record<string, unknown>;
  results: ResultEntry[];
}

/** Collects a child's reports; a helper for measuring code. */
export class Report {
  readonly entries: Measured[] = [];

  samples(metric: string, unit: string, better: Better, samples: number[], note?: string): void {
    this.entries.push(note === undefined ? { metric, unit, better, samples } : { metric, unit, better, samples, note });
  }

  na(metric: string, reason: string): void {
    this.entries.push({ metric, na: reason });
  }
}

export function isMeasured(value: unknown): value is Measured {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.metric !== 'string') return false;
  if (typeof v.na === 'string') return true;
  return (
    typeof v.unit === 'string' &&
    (v.better === 'higher' || v.better === 'lower') &&
    Array.isArray(v.samples) &&
    v.samples.every((s) => typeof s === 'number' && Number.isFinite(s))
  );
}
