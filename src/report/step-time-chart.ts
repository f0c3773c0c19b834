// `modes` → grouped bars: median wall time of a training step (and of a 64-image epoch, in its own
// panel) per model, one bar per mode, log-scale ms. Failed records are counted, not drawn.
import type { ModesRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG, modeRank, modeScale, SPLIT_LABEL_EXPR } from './chart-style.js';

const WORKLOAD_TITLE: Record<string, string> = {
  step: 'one training step',
  epoch64: 'one epoch of 64 images',
  train: 'a whole training run (demo)',
};

export function modelLabel(r: { model: string; size: number; batch: number }): string {
  return `${r.model}|${r.size} px · batch ${r.batch}`;
}

const HEIGHT = 300;

export function stepTimeChart(records: readonly ModesRecord[]): Chart | null {
  const drawn = (r: ModesRecord) => r.error === undefined && r.medianMs !== undefined && r.medianMs > 0;
  if (!records.some(drawn)) return null;
  // Failed records stay in the data (ms null) to put a 'failed' mark where their bar would be.
  const values = records
    .map((r) => ({
      model: modelLabel(r),
      mode: r.mode,
      workload: WORKLOAD_TITLE[r.workload] ?? r.workload,
      ms: drawn(r) ? r.medianMs! : null,
      rank: modeRank(r.mode),
    }))
    .sort((a, b) => a.rank - b.rank);
  const models = [...new Set(values.map((v) => v.model))];
  const modes = modeScale(values.map((v) => v.mode));
  const failed = values.filter((v) => v.ms === null).length;
  // Panels share one width: that of the workload with the most models.
  const perPanel = Math.max(
    ...[...new Set(values.map((v) => v.workload))].map(
      (w) => new Set(values.filter((v) => v.workload === w).map((v) => v.model)).size,
    ),
  );
  const width = Math.max(260, perPanel * (modes.domain.length * 22 + 40));
  const x = {
    field: 'model',
    type: 'nominal' as const,
    sort: models,
    title: 'model (input size, batch)',
    axis: { labelAngle: 0, labelExpr: SPLIT_LABEL_EXPR, labelPadding: 6 },
  };
  const xOffset = { field: 'mode', type: 'nominal' as const, sort: modes.domain };
  return {
    stem: 'step-time',
    title: 'Step time per mode',
    caption:
      'Median wall time per model and mode, log scale.' +
      (failed > 0 ? ` ${failed} failed or empty record(s) are marked 'failed'; see the table.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'Training time per mode',
        subtitle: 'median wall time over the repeats (log scale); lower is better',
      },
      data: { values },
      facet: {
        column: { field: 'workload', type: 'nominal', title: null, header: { labelFontWeight: 'bold' } },
      },
      // Each panel has its own models and range.
      resolve: { scale: { x: 'independent', xOffset: 'independent', y: 'independent' } },
      spec: {
        width,
        height: HEIGHT,
        layer: [
          {
            transform: [{ filter: 'datum.ms != null' }],
            mark: { type: 'bar', tooltip: true },
            encoding: {
              x,
              xOffset,
              y: {
                field: 'ms',
                type: 'quantitative',
                scale: { type: 'log' },
                // Stacking would start each bar at 0, which a log scale cannot place (empty plot).
                stack: null,
                title: 'median wall time (ms, log scale)',
                axis: { format: ',~g' },
              },
              color: { field: 'mode', type: 'nominal', scale: modes, title: 'mode' },
            },
          },
          {
            transform: [{ filter: 'datum.ms == null' }],
            mark: {
              type: 'text',
              text: '✗ failed',
              angle: 270,
              align: 'left',
              baseline: 'middle',
              color: '#c00',
              fontSize: 11,
            },
            encoding: { x, xOffset, y: { value: HEIGHT - 4 } },
          },
        ],
      },
    },
  };
}
