// `matrix` → the same sweep split by phase: one panel per mode, one stacked bar per row count, so the
// share of transfer and verification against compute can be read as the product grows.
import type { MatrixRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG, modeRank } from './chart-style.js';

const PHASE_ORDER = ['load', 'send', 'compute', 'receive', 'verify', 'unblind'];
// The colors of the matching breakdown kinds (quantize, send, accelerator, receive, verify, unblind).
const PHASE_COLORS = ['#ff7f0e', '#ffbb78', '#d62728', '#ff9896', '#9467bd', '#c5b0d5'];

export function matrixPhasesChart(records: readonly MatrixRecord[]): Chart | null {
  const ok = records.filter((r) => r.error === undefined && r.phases !== undefined);
  const values = ok
    .flatMap((r) =>
      Object.entries(r.phases!)
        .filter((e): e is [string, number] => e[1] !== undefined && e[1] > 0)
        .map(([phase, ms]) => ({
          mode: r.mode,
          rank: modeRank(r.mode),
          rows: r.rows,
          shape: `${r.inner}×${r.cols}`,
          phase,
          ms,
          order: PHASE_ORDER.indexOf(phase) < 0 ? PHASE_ORDER.length : PHASE_ORDER.indexOf(phase),
        })),
    )
    .sort((a, b) => a.rank - b.rank || a.rows - b.rows);
  if (values.length === 0) return null;
  const shapes = new Set(values.map((v) => v.shape));
  const bar = (v: (typeof values)[number]) => (shapes.size > 1 ? `${v.rows} (${v.shape})` : String(v.rows));
  const data = values.map((v) => ({ ...v, bar: bar(v) }));
  const bars = [...new Set(data.map((d) => d.bar))];
  const present = new Set(data.map((d) => d.phase));
  const domain = [
    ...PHASE_ORDER.filter((p) => present.has(p)),
    ...[...present].filter((p) => !PHASE_ORDER.includes(p)).sort(),
  ];
  const range = domain.map((p) => PHASE_COLORS[PHASE_ORDER.indexOf(p)] ?? '#7f7f7f');
  const modes = [...new Set(data.map((d) => d.mode))];
  return {
    stem: 'matrix-phases',
    title: 'Linear-layer sweep by phase',
    caption: 'The matrix sweep split into its phases (medians), one panel per mode.',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'Linear layer: time by phase',
        subtitle: 'load = quantize/blind + frame; compute = the accelerator or trusted product',
      },
      data: { values: data },
      facet: {
        column: {
          field: 'mode',
          type: 'nominal',
          sort: modes,
          title: null,
          header: { labelFontWeight: 'bold' },
        },
      },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: Math.max(220, bars.length * 40),
        height: 260,
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: {
            field: 'bar',
            type: 'ordinal',
            sort: bars,
            title: shapes.size > 1 ? 'rows (inner×cols)' : 'rows of the product',
            axis: { labelAngle: 0 },
          },
          y: { field: 'ms', type: 'quantitative', title: 'time per product (ms)', stack: 'zero' },
          color: { field: 'phase', type: 'nominal', scale: { domain, range }, title: 'phase' },
          order: { field: 'order', type: 'quantitative' },
        },
      },
    },
  };
}
