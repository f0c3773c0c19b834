// `breakdown` → one stacked bar per model (and split mode): the ms of a step by kind, trusted-side
// layer work first, then the offload protocol; the step's total is written on top of each bar.
import type { BreakdownRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG, KIND_ORDER, kindScale, SPLIT_LABEL_EXPR } from './chart-style.js';

export function breakdownChart(records: readonly BreakdownRecord[]): Chart | null {
  const ok = records.filter((r) => r.error === undefined && r.byKind !== undefined && r.byKind.length > 0);
  if (ok.length === 0) return null;
  const values = ok.flatMap((r) => {
    const bar = `${r.model} · ${r.mode}|${r.size} px · batch ${r.batch}`;
    return r
      .byKind!.filter((k) => k.ms > 0)
      .map((k) => ({
        bar,
        kind: k.kind,
        ms: k.ms,
        order: KIND_ORDER.indexOf(k.kind) < 0 ? KIND_ORDER.length : KIND_ORDER.indexOf(k.kind),
      }));
  });
  if (values.length === 0) return null;
  const bars = [...new Set(values.map((v) => v.bar))];
  const kinds = kindScale(values.map((v) => v.kind));
  const failed = records.length - ok.length;
  const x = {
    field: 'bar',
    type: 'nominal',
    sort: bars,
    title: 'model · mode (input size, batch)',
    axis: { labelAngle: 0, labelExpr: SPLIT_LABEL_EXPR, labelPadding: 6 },
  } as const;
  return {
    stem: 'breakdown',
    title: 'Where a split-mode step spends its time',
    caption:
      'Time of one training step by kind (medians over the repeats), stacked; the number on each bar is the sum.' +
      (failed > 0 ? ` ${failed} failed or empty record(s) are not drawn; see the table.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'Step time by kind',
        subtitle: [
          'trusted-side layer work, then the offload protocol',
          '(quantize, send, accelerator, receive, verify, unblind)',
        ],
      },
      data: { values },
      width: Math.max(420, bars.length * 150),
      height: 340,
      layer: [
        {
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x,
            y: { field: 'ms', type: 'quantitative', title: 'time per step (ms)', stack: 'zero' },
            color: { field: 'kind', type: 'nominal', scale: kinds, title: 'kind' },
            order: { field: 'order', type: 'quantitative' },
          },
        },
        {
          transform: [{ aggregate: [{ op: 'sum', field: 'ms', as: 'total' }], groupby: ['bar'] }],
          mark: { type: 'text', dy: -8, fontSize: 12 },
          encoding: {
            x,
            y: { field: 'total', type: 'quantitative' },
            text: { field: 'total', type: 'quantitative', format: ',.1f' },
          },
        },
      ],
    },
  };
}
