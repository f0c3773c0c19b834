// `matrix` → lines of time per linear product against its rows, one per mode (trusted-only baseline
// and the split modes), a panel per inner × cols shape; log axes when the sweep spans a decade.
import type { MatrixRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG, modeRank, modeScale } from './chart-style.js';

/** totalMs, or the sum of the phases when only those were recorded. */
export function matrixTotal(r: MatrixRecord): number | undefined {
  if (r.totalMs !== undefined) return r.totalMs;
  if (r.phases === undefined) return undefined;
  const ms = Object.values(r.phases).filter((v): v is number => v !== undefined);
  return ms.length ? ms.reduce((a, b) => a + b, 0) : undefined;
}

export function matrixChart(records: readonly MatrixRecord[]): Chart | null {
  const values = records
    .filter((r) => r.error === undefined)
    .map((r) => ({
      rows: r.rows,
      mode: r.mode,
      shape: `inner ${r.inner} × cols ${r.cols}`,
      ms: matrixTotal(r),
      rank: modeRank(r.mode),
    }))
    .filter((v): v is typeof v & { ms: number } => v.ms !== undefined && v.ms > 0 && v.rows > 0)
    .sort((a, b) => a.rank - b.rank || a.rows - b.rows);
  if (values.length === 0) return null;
  const failed = records.length - values.length;
  const modes = modeScale(values.map((v) => v.mode));
  const spans = (xs: number[]) => Math.max(...xs) / Math.min(...xs) >= 10;
  const logX = spans(values.map((v) => v.rows));
  const logY = spans(values.map((v) => v.ms));
  const rowValues = [...new Set(values.map((v) => v.rows))].sort((a, b) => a - b);
  const minRows = rowValues[0]!;
  const maxRows = rowValues[rowValues.length - 1]!;
  // A little room either side so the end points are not on the frame.
  const pad = logX ? 1.25 : 1.05;
  return {
    stem: 'matrix',
    title: 'Linear-layer sweep',
    caption:
      'Time of one product (rows × inner) · (inner × cols) against its number of rows, trusted-only and split.' +
      (failed > 0 ? ` ${failed} failed or empty record(s) are not drawn; see the table.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'Linear layer: trusted-only against split',
        subtitle: 'time of one product against its rows (all phases: load, send, compute, receive, verify)',
      },
      data: { values },
      facet: {
        column: { field: 'shape', type: 'nominal', title: null, header: { labelFontWeight: 'bold' } },
      },
      spec: {
        width: 340,
        height: 280,
        mark: { type: 'line', point: { size: 50 }, tooltip: true },
        encoding: {
          x: {
            field: 'rows',
            type: 'quantitative',
            scale: { type: logX ? 'log' : 'linear', nice: false, domain: [minRows / pad, maxRows * pad] },
            title: `rows of the product${logX ? ' (log scale)' : ''}`,
            // Ticks at the measured row counts.
            axis: { format: ',~g', values: rowValues },
          },
          y: {
            field: 'ms',
            type: 'quantitative',
            scale: logY ? { type: 'log' } : { zero: true },
            title: `time per product (ms${logY ? ', log scale' : ''})`,
            axis: { format: ',~g' },
          },
          color: { field: 'mode', type: 'nominal', scale: modes, title: 'mode' },
        },
      },
    },
  };
}
