// `equivalence` → max |Δ| against the native reference per mode and thread count, log scale, with the
// tolerance as a black tick on each row. A log axis has no 0, so exact (bit-identical) results are
// drawn as diamonds at a floor two decades under the smallest non-zero value, whose tick reads '0'.
// Per-parameter gradients ('grad:<name>') stay in the table; their worst is the 'grads' quantity.
import type { EquivalenceRecord } from '../bench/experiments/schema.js';
import type { Chart } from './chart.js';
import { CHART_CONFIG, modeRank, modeScale } from './chart-style.js';

export const STATUS_EXACT = 'exact 0 (bit-identical)';
export const STATUS_WITHIN = 'within tolerance';
export const STATUS_OVER = 'over tolerance';

export function equivalenceStatus(r: EquivalenceRecord): string {
  if (r.maxAbsDiff === 0) return STATUS_EXACT;
  return r.pass === false || r.maxAbsDiff! > r.tolerance ? STATUS_OVER : STATUS_WITHIN;
}

export function equivalenceChart(records: readonly EquivalenceRecord[]): Chart | null {
  const ok = records.filter(
    (r) =>
      r.error === undefined &&
      r.maxAbsDiff !== undefined &&
      r.maxAbsDiff >= 0 &&
      !r.quantity.startsWith('grad:'),
  );
  if (ok.length === 0) return null;
  const positives = ok.flatMap((r) => [r.maxAbsDiff!, r.tolerance]).filter((v) => v > 0);
  const floor = 10 ** (Math.floor(Math.log10(positives.length ? Math.min(...positives) : 1e-10)) - 2);
  const top = 10 ** (Math.ceil(Math.log10(positives.length ? Math.max(...positives) : floor * 1e4)) + 1);
  const decades: number[] = [];
  for (let v = floor; v <= top * 1.001; v *= 10) decades.push(Number(v.toPrecision(1)));
  const sorted = [...ok].sort((a, b) => modeRank(a.mode) - modeRank(b.mode) || a.threads - b.threads);
  const values = sorted.map((r) => ({
    model: r.model,
    panel: `${r.phase}: ${r.quantity}`,
    run: `${r.mode} · ${r.threads} thread${r.threads === 1 ? '' : 's'}`,
    mode: r.mode,
    delta: r.maxAbsDiff!,
    plotted: r.maxAbsDiff! > 0 ? r.maxAbsDiff! : floor,
    tolerance: r.tolerance > 0 ? r.tolerance : null,
    status: equivalenceStatus(r),
  }));
  const runs = [...new Set(values.map((v) => v.run))];
  const panels = [...new Set(values.map((v) => v.panel))];
  const modes = modeScale(values.map((v) => v.mode));
  const skipped = records.length - ok.length;
  const x = {
    field: 'plotted',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain: [floor / 3, top] },
    title: 'max |Δ| (quantity’s units, log)',
    // Ticks at the floor ('0') and at each decade above it, nowhere else.
    axis: {
      values: decades,
      labelExpr: `datum.value <= ${floor * 1.001} ? '0' : format(datum.value, '.0e')`,
      labelOverlap: 'greedy' as const,
    },
  };
  const y = { field: 'run', type: 'nominal', sort: runs, title: 'mode · threads' } as const;
  return {
    stem: 'equivalence',
    title: 'Same results in every mode',
    caption:
      'Largest absolute difference of logits, loss and gradients from the native reference, per mode and thread count. ' +
      'Black ticks are the tolerances; diamonds at 0 are bit-identical results.' +
      (skipped > 0 ? ` ${skipped} per-parameter, failed or empty record(s) are only in the table.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CHART_CONFIG,
      title: {
        text: 'Equivalence with the native reference',
        subtitle: [
          'largest |difference| from native at the reference thread count',
          'black tick = tolerance; ◆ at 0 = bit-identical',
        ],
      },
      data: { values },
      facet: {
        row: {
          field: 'model',
          type: 'nominal',
          title: 'model',
          header: { labelFontWeight: 'bold', labelAngle: 0, labelAlign: 'left' },
        },
        column: {
          field: 'panel',
          type: 'nominal',
          sort: panels,
          title: null,
          header: { labelFontWeight: 'bold' },
        },
      },
      spec: {
        width: 320,
        height: { step: 24 },
        layer: [
          {
            transform: [{ filter: 'datum.tolerance != null' }],
            mark: { type: 'tick', color: 'black', thickness: 2, size: 18 },
            encoding: { x: { ...x, field: 'tolerance' }, y },
          },
          {
            mark: { type: 'point', filled: true, size: 90, opacity: 0.9, tooltip: true },
            encoding: {
              x,
              y,
              color: { field: 'mode', type: 'nominal', scale: modes, title: 'mode' },
              shape: {
                field: 'status',
                type: 'nominal',
                title: 'result',
                scale: {
                  domain: [STATUS_EXACT, STATUS_WITHIN, STATUS_OVER],
                  range: ['diamond', 'circle', 'cross'],
                },
              },
            },
          },
        ],
      },
    },
  };
}
