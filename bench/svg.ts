/**
 * An SVG chart of the headline ratios: for each workload's headline metric,
 * each peer's ratio to node-http2 (left) and to native (right), on a log
 * scale centred on 1×. Hand-written SVG, no dependencies.
 */

import { headlineOf, metricsOf, type Params, type PeerName, type WorkloadName } from './config';
import { formatRatio, ratio, REFERENCES } from './report';
import type { ResultEntry, RunResults } from './results';

const COLORS: Record<PeerName, string> = {
  native: '#1f77b4',
  wasm: '#ff7f0e',
  'quinn-rust': '#2ca02c',
  'quinn-rust-1thread': '#98df8a',
  'node-http2': '#7f7f7f',
  'matrixai-quic': '#9467bd',
  'bun-quic': '#e377c2',
  'deno-quic': '#17becf',
};

/** The scale runs from 1/LIMIT to LIMIT. */
const LIMIT = 64;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function svgChart(run: RunResults, workloads: readonly WorkloadName[], peers: readonly PeerName[], params: Params): string {
  const references = REFERENCES.filter((r) => peers.includes(r));
  const labelWidth = 190;
  const panelWidth = 330;
  const gap = 60;
  const barHeight = 11;
  const rowGap = 14;
  const top = 64;
  const rowHeight = peers.length * barHeight + rowGap;
  const width = labelWidth + references.length * (panelWidth + gap) + 10;
  const bottom = top + workloads.length * rowHeight;
  const height = bottom + 50;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">quicbridge benchmark: headline ratios${run.quick ? ' (quick run, noisy)' : ''}</text>`,
    `<text x="10" y="34" fill="#555">${escape(run.date)} — bars right of 1× are better than the reference (log scale, clipped at ${LIMIT}×)</text>`,
  );
  const find = (workload: WorkloadName, peer: PeerName, metric: string): ResultEntry | undefined =>
    run.results.find((r) => r.workload === workload && r.peer === peer && r.metric === metric);
  references.forEach((reference, p) => {
    const x0 = labelWidth + p * (panelWidth + gap);
    const scale = (value: number): number => {
      const clipped = Math.min(LIMIT, Math.max(1 / LIMIT, value));
      return x0 + panelWidth / 2 + (Math.log(clipped) / Math.log(LIMIT)) * (panelWidth / 2);
    };
    out.push(`<text x="${x0 + panelWidth / 2}" y="${top - 14}" text-anchor="middle" font-weight="bold">vs ${escape(reference)}</text>`);
    for (const tick of [1 / 64, 1 / 8, 1, 8, 64]) {
      const x = scale(tick);
      out.push(
        `<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${bottom}" stroke="${tick === 1 ? '#000' : '#ddd'}"/>`,
        `<text x="${x}" y="${bottom + 14}" text-anchor="middle" fill="#555">${tick < 1 ? `1/${1 / tick}` : tick}×</text>`,
      );
    }
    workloads.forEach((workload, w) => {
      const metric = headlineOf(workload, params);
      peers.forEach((peer, i) => {
        const y = top + w * rowHeight + i * barHeight;
        const r = ratio(find(workload, peer, metric), find(workload, reference, metric));
        if (r === undefined) {
          out.push(`<text x="${scale(1) + 4}" y="${y + barHeight - 2}" fill="#999" font-size="9">n/a</text>`);
          return;
        }
        const a = scale(1);
        const b = scale(r);
        out.push(
          `<rect x="${Math.min(a, b)}" y="${y + 1}" width="${Math.max(1, Math.abs(b - a))}" height="${barHeight - 2}" fill="${COLORS[peer]}"><title>${escape(`${peer}: ${formatRatio(r)} ${reference}`)}</title></rect>`,
          `<text x="${b >= a ? b + 3 : b - 3}" y="${y + barHeight - 2}" text-anchor="${b >= a ? 'start' : 'end'}" font-size="9">${formatRatio(r)}</text>`,
        );
      });
    });
  });
  workloads.forEach((workload, w) => {
    const metric = headlineOf(workload, params);
    const spec = metricsOf(workload, params).find((m) => m.metric === metric);
    const y = top + w * rowHeight + (peers.length * barHeight) / 2;
    out.push(
      `<text x="10" y="${y}" font-weight="bold">${escape(workload)}</text>`,
      `<text x="10" y="${y + 13}" fill="#555">${escape(spec ? `${spec.label} (${spec.unit})` : metric)}</text>`,
    );
  });
  peers.forEach((peer, i) => {
    const x = 10 + i * 120;
    out.push(
      `<rect x="${x}" y="${bottom + 28}" width="10" height="10" fill="${COLORS[peer]}"/>`,
      `<text x="${x + 14}" y="${bottom + 37}">${escape(peer)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
