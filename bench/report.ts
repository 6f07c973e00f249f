/** The run's results as markdown tables. */

import { metricsOf, type MetricSpec, type Params, type PeerName, WORKLOAD_TITLES, type WorkloadName } from './config';
import type { ResultEntry, RunResults } from './results';

export const REFERENCES: readonly PeerName[] = ['node-http2', 'native'];

export function formatValue(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

/**
 * How many times better `entry` is than `reference`: value ÷ reference when
 * higher is better, reference ÷ value when lower is better; > 1 is better.
 */
export function ratio(entry: ResultEntry | undefined, reference: ResultEntry | undefined): number | undefined {
  if (!entry || !reference || entry.value === null || reference.value === null) return undefined;
  if (entry.value <= 0 || reference.value <= 0) return undefined;
  return entry.better === 'higher' ? entry.value / reference.value : reference.value / entry.value;
}

export function formatRatio(value: number | undefined): string {
  if (value === undefined) return '–';
  return `${value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(2)}×`;
}

function cell(entry: ResultEntry | undefined, footnote: (text: string) => string): string {
  if (!entry) return '–';
  if (entry.value === null) return `n/a ${footnote(entry.reason ?? 'no reason given')}`;
  const { spread } = entry;
  let text = formatValue(entry.value);
  if (spread && entry.samples.length > 1) text += ` (${formatValue(spread.min)}–${formatValue(spread.max)})`;
  if (entry.note) text += ` ${footnote(entry.note)}`;
  return text;
}

function find(results: readonly ResultEntry[], workload: WorkloadName, peer: PeerName, metric: string): ResultEntry | undefined {
  return results.find((r) => r.workload === workload && r.peer === peer && r.metric === metric);
}

function workloadTable(run: RunResults, workload: WorkloadName, peers: readonly PeerName[], params: Params): string {
  const metrics: MetricSpec[] = metricsOf(workload, params);
  const notes: string[] = [];
  const footnote = (text: string): string => {
    let index = notes.indexOf(text);
    if (index < 0) index = notes.push(text) - 1;
    return `[${index + 1}]`;
  };
  const references = REFERENCES.filter((r) => peers.includes(r));
  const header = ['peer'];
  for (const m of metrics) {
    header.push(`${m.label} (${m.unit}, ${m.better} is better)`);
    if (!m.noRatio) for (const r of references) header.push(`vs ${r}`);
  }
  const rows = [header, header.map(() => '---')];
  for (const peer of peers) {
    const row: string[] = [peer];
    for (const m of metrics) {
      const entry = find(run.results, workload, peer, m.metric);
      row.push(cell(entry, footnote));
      if (!m.noRatio) {
        for (const r of references) row.push(formatRatio(ratio(entry, find(run.results, workload, r, m.metric))));
      }
    }
    rows.push(row);
  }
  const lines = [`### ${WORKLOAD_TITLES[workload]}`, '', ...rows.map((r) => `| ${r.join(' | ')} |`)];
  if (notes.length > 0) {
    lines.push('');
    notes.forEach((text, i) => lines.push(`[${i + 1}] ${text.replace(/\|/g, '\\|')}  `));
  }
  return lines.join('\n');
}

export function markdown(run: RunResults, workloads: readonly WorkloadName[], peers: readonly PeerName[], params: Params): string {
  const m = run.machine;
  const lines = [
    `## quicbridge benchmark${run.quick ? ' (--quick: small sizes, few samples — noisy)' : ''}`,
    '',
    `${run.date} · \`${run.command}\``,
    '',
    `Machine: ${String(m.cpu)}, ${String(m.cores)} cores, ${String(m.memory)}; Node ${String(m.node)}; ` +
      `Bun ${String(m.bun)}; Deno ${String(m.deno)}; ${String(m.rustc)}; ` +
      `load average at start ${String(m.loadAverage)}; native addon: ${String(m.nativeProfile)}.`,
    '',
    'Each figure is the median of the samples, with (min–max) when there are several. ' +
      '"vs X" is how many times better than peer X: value ÷ X for throughput, X ÷ value for latency and memory (> 1× is better).',
  ];
  for (const workload of workloads) {
    lines.push('', workloadTable(run, workload, peers, params));
  }
  return lines.join('\n') + '\n';
}
