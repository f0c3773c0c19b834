// What every chart shares: one color per mode (the same in every chart), one per breakdown kind, and
// the vega-lite config (fonts, sizes, padding). Text is measured with DejaVu Sans metrics
// (text-width.ts); axes may grow to fit their labels (maxExtent) instead of overlapping the title.
import type { BreakdownKind } from '../bench/experiments/schema.js';
import { BREAKDOWN_KINDS } from '../bench/experiments/validate.js';

/** Modes in the order of every legend; 'trusted' is the matrix experiment's trusted-only baseline (first). */
export const MODE_ORDER = [
  'trusted',
  'native',
  'enclave',
  'split-exact',
  'split-exact-p24',
  'split-float',
  'accelerator',
] as const;

const MODE_COLORS: Record<string, string> = {
  native: '#4c78a8',
  enclave: '#e45756',
  'split-exact': '#f58518',
  'split-exact-p24': '#ffbf79',
  'split-float': '#b279a2',
  accelerator: '#54a24b',
  trusted: '#9d755d',
};

// For modes a newer bench may add: still distinct, still stable within one chart.
const SPARE_COLORS = ['#72b7b2', '#eeca3b', '#ff9da6', '#bab0ac'];

/** Stacking order of the breakdown kinds: the schema's order. */
export const KIND_ORDER: readonly BreakdownKind[] = BREAKDOWN_KINDS;

// Trusted-side layer work in blues/greens, the offload protocol in oranges/reds, the rest in greys.
const KIND_COLORS: Record<string, string> = {
  conv: '#1f77b4',
  linear: '#aec7e8',
  batchnorm: '#2ca02c',
  relu: '#98df8a',
  pooling: '#17becf',
  quantize: '#ff7f0e',
  send: '#ffbb78',
  accelerator: '#d62728',
  receive: '#ff9896',
  verify: '#9467bd',
  unblind: '#c5b0d5',
  loss: '#8c564b',
  optimizer: '#e377c2',
  other: '#7f7f7f',
};

/** A color scale over the values present, in `order` (unknown values last, alphabetical). */
function orderedScale(present: Iterable<string>, order: readonly string[], colors: Record<string, string>) {
  const set = new Set(present);
  const known = order.filter((v) => set.has(v));
  const unknown = [...set].filter((v) => !order.includes(v)).sort();
  const domain = [...known, ...unknown];
  const range = domain.map((v, i) => colors[v] ?? SPARE_COLORS[(i - known.length) % SPARE_COLORS.length]!);
  return { domain, range };
}

export function modeScale(present: Iterable<string>): { domain: string[]; range: string[] } {
  return orderedScale(present, MODE_ORDER, MODE_COLORS);
}

export function kindScale(present: Iterable<string>): { domain: string[]; range: string[] } {
  return orderedScale(present, KIND_ORDER, KIND_COLORS);
}

/** The rank of a mode in MODE_ORDER (unknown modes after the known ones). */
export function modeRank(mode: string): number {
  const i = (MODE_ORDER as readonly string[]).indexOf(mode);
  return i < 0 ? MODE_ORDER.length : i;
}

/** Font the SVGs ask for; the PNG renderer maps it to the font it found (find-font.ts). */
export const CHART_FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

export const CHART_CONFIG = {
  font: CHART_FONT,
  background: 'white',
  padding: 16,
  autosize: { type: 'pad', contains: 'padding' },
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#444', anchor: 'start', offset: 12 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8, labelLimit: 480, maxExtent: 600 },
  header: { labelFontSize: 13, titleFontSize: 13, labelLimit: 400 },
  legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 300 },
  view: { stroke: '#ddd' },
} as const;

/** `resnet18|224 px · batch 4` → two label lines (vega splits on '|' in the axes' labelExpr). */
export const SPLIT_LABEL_EXPR = "split(datum.label, '|')";

/** Human byte counts for labels: 1048576 → '1 MiB'. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
