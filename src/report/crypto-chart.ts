// `crypto` → AES-256-GCM throughput in GB/s (10⁹ bytes per second): encrypt and decrypt, in the client
// process and in the trusted process side by side, one panel per buffer size.
import type { CryptoRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG, formatBytes } from './chart-style.js';

const WHERE_ORDER = ['client', 'trusted'];
const WHERE_COLORS = ['#4c78a8', '#e45756'];

/** gbPerSec, or bytes / medianMs when only the time was recorded. */
export function cryptoGbPerSec(r: CryptoRecord): number | undefined {
  if (r.gbPerSec !== undefined) return r.gbPerSec;
  if (r.medianMs !== undefined && r.medianMs > 0) return r.bytes / (r.medianMs * 1e6);
  return undefined;
}

export function cryptoChart(records: readonly CryptoRecord[]): Chart | null {
  const values = records
    .filter((r) => r.error === undefined)
    .map((r) => ({
      where: r.where,
      op: r.op,
      bytes: r.bytes,
      size: formatBytes(r.bytes),
      gbps: cryptoGbPerSec(r),
    }))
    .filter((v): v is typeof v & { gbps: number } => v.gbps !== undefined && v.gbps > 0)
    .sort((a, b) => a.bytes - b.bytes);
  if (values.length === 0) return null;
  const failed = records.length - values.length;
  const present = new Set<string>(values.map((v) => v.where));
  const domain = [
    ...WHERE_ORDER.filter((w) => present.has(w)),
    ...[...present].filter((w) => !WHERE_ORDER.includes(w)),
  ];
  const range = domain.map((w, i) => WHERE_COLORS[WHERE_ORDER.indexOf(w)] ?? ['#72b7b2', '#eeca3b'][i % 2]!);
  const sizes = [...new Set(values.map((v) => v.size))];
  const x = {
    field: 'op',
    type: 'nominal',
    title: 'operation',
    sort: ['encrypt', 'decrypt'],
    axis: { labelAngle: 0 },
  } as const;
  const xOffset = { field: 'where', type: 'nominal', sort: domain } as const;
  return {
    stem: 'crypto',
    title: 'AES-256-GCM throughput',
    caption:
      'Encryption and decryption throughput in the client and in the trusted process, per buffer size.' +
      (failed > 0 ? ` ${failed} failed or empty record(s) are not drawn; see the table.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'AES-256-GCM throughput',
        subtitle: 'GB/s = 10⁹ bytes per second (median); higher is better',
      },
      data: { values },
      facet: {
        column: {
          field: 'size',
          type: 'ordinal',
          sort: sizes,
          title: 'buffer size',
          header: { labelFontWeight: 'bold' },
        },
      },
      // Sizes can differ by orders of magnitude in speed: each panel has its own scale.
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 240,
        height: 260,
        layer: [
          {
            mark: { type: 'bar', tooltip: true },
            encoding: {
              x,
              xOffset,
              y: { field: 'gbps', type: 'quantitative', title: 'throughput (GB/s)' },
              color: { field: 'where', type: 'nominal', scale: { domain, range }, title: 'process' },
            },
          },
          {
            mark: { type: 'text', dy: -8, fontSize: 11 },
            encoding: {
              x,
              xOffset,
              y: { field: 'gbps', type: 'quantitative' },
              text: { field: 'gbps', type: 'quantitative', format: '.2f' },
            },
          },
        ],
      },
    },
  };
}
