// `peer` (and any `bench kernels` files) → our speed as a fraction of PyTorch CPU's on the same
// workload and thread count (ratio = torch ms / our ms; > 1 means we are faster), with rules at
// parity (1.0) and at the 0.9 target. Skipped or failed workloads stay in the table.
import type { PeerRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG } from './chart-style.js';
import type { LoadedBench } from './load-results.js';

export interface PeerPoint {
  readonly workload: string;
  readonly source: string;
  readonly ratio: number;
}

export function peerPoints(records: readonly PeerRecord[], benches: readonly LoadedBench[]): PeerPoint[] {
  const points: PeerPoint[] = [];
  for (const r of records) {
    if (r.error !== undefined || r.skipped !== undefined) continue;
    const ratio = r.ratio ?? (r.oursMs && r.torchMs ? r.torchMs / r.oursMs : undefined);
    if (ratio === undefined || !(ratio > 0)) continue;
    points.push({
      workload: `step ${r.model} ${r.size} px b${r.batch} · T${r.threads}`,
      source: 'peer experiment',
      ratio,
    });
  }
  for (const b of benches) {
    const t = b.data.settings.threads;
    for (const w of b.data.workloads) {
      if (typeof w.ratio !== 'number' || !(w.ratio > 0)) continue;
      points.push({ workload: `${w.label} · T${t}`, source: 'bench kernels', ratio: w.ratio });
    }
  }
  return points;
}

export function peerChart(records: readonly PeerRecord[], benches: readonly LoadedBench[]): Chart | null {
  const values = peerPoints(records, benches);
  if (values.length === 0) return null;
  const sources = [...new Set(values.map((v) => v.source))];
  const maxRatio = Math.max(1.2, ...values.map((v) => v.ratio));
  const y = {
    field: 'workload',
    type: 'nominal',
    sort: values.map((v) => v.workload),
    title: 'workload · threads',
  } as const;
  const x = {
    field: 'ratio',
    type: 'quantitative' as const,
    scale: { domain: [0, Math.ceil(maxRatio * 11) / 10] },
    title: 'speed relative to PyTorch CPU (× = torch ms / our ms)',
  };
  return {
    stem: 'peer',
    title: 'Speed against PyTorch',
    caption:
      'Our speed divided by PyTorch CPU’s on the same workloads and threads; 1.0 is parity, 0.9 the target floor.',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'Speed against PyTorch CPU',
        subtitle: '> 1 means faster than PyTorch; rules at parity (1.0) and at 0.9',
      },
      width: 480,
      height: { step: 22 },
      layer: [
        {
          data: { values },
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x,
            y,
            color: {
              field: 'source',
              type: 'nominal',
              scale: { domain: sources, range: ['#4c78a8', '#72b7b2'].slice(0, sources.length) },
              title: 'from',
            },
          },
        },
        {
          data: {
            values: [
              { at: 1, label: 'parity 1.0' },
              { at: 0.9, label: '0.9' },
            ],
          },
          layer: [
            {
              mark: { type: 'rule', strokeWidth: 1.5 },
              encoding: {
                x: { field: 'at', type: 'quantitative' },
                strokeDash: {
                  field: 'label',
                  type: 'nominal',
                  scale: {
                    domain: ['parity 1.0', '0.9'],
                    range: [
                      [1, 0],
                      [6, 4],
                    ],
                  },
                  title: 'reference',
                },
                color: { value: 'black' },
              },
            },
          ],
        },
        // Last, so the numbers stay readable over the rules.
        {
          data: { values },
          mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
          encoding: { x, y, text: { field: 'ratio', type: 'quantitative', format: '.2f' } },
        },
      ],
    },
  };
}
