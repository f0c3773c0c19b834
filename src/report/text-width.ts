// Text widths for vega's layout without a canvas. Vega's fallback guesses 0.8 em per character,
// far wider than real glyphs (wasted space) yet capped axes then overlap their titles; this uses
// the advance widths of DejaVu Sans (the PNG font; Verdana, a browser's fallback, is about as wide),
// with a margin, so the layout fits the text as drawn.
import * as vega from 'vega';

// Advance widths in thousandths of an em for ASCII 32..126, DejaVu Sans 2.37 regular and bold.
const REGULAR = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636,
  636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295,
  295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838,
  500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521,
  392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
];
const BOLD = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696,
  696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372,
  372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838,
  500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595,
  478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
];
/** Characters outside ASCII (×, ·, Δ, →, …) count as one em: none of those used is wider. */
const OTHER = 1000;
/** Room for a browser drawing the SVG with a somewhat wider fallback font. */
const MARGIN = 1.08;

interface TextItem {
  readonly fontSize?: number | string;
  readonly fontWeight?: number | string;
}

export function textWidth(text: string, fontSize: number, bold: boolean): number {
  const table = bold ? BOLD : REGULAR;
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    units += c >= 32 && c <= 126 ? table[c - 32]! : OTHER;
  }
  return (units / 1000) * fontSize * MARGIN;
}

function itemWidth(item: TextItem, text: unknown): number {
  const size = item.fontSize != null ? +item.fontSize || 0 : 11;
  const w = item.fontWeight;
  const bold = w === 'bold' || w === 'bolder' || (typeof w === 'number' && w >= 600) || Number(w) >= 600;
  return textWidth(text == null ? '' : String(text).trim(), size, bold);
}

/** Makes vega measure text with textWidth (vega-scenegraph's documented hook, as vl-convert uses). */
export function useDejaVuMetrics(): void {
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } })
    .textMetrics;
  metrics.width = itemWidth;
}
