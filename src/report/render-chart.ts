// A vega-lite spec → SVG (vega-lite compile, then a headless vega View with renderer 'none') → PNG
// (resvg, at PNG_SCALE times the SVG's size, white background). No canvas and no browser needed.
import { Resvg } from '@resvg/resvg-js';
import { logger, None, parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { FontChoice } from './find-font.js';
import { useDejaVuMetrics } from './text-width.js';

/** PNG pixels per SVG pixel: sharp on high-density screens and in slides. */
export const PNG_SCALE = 2;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  useDejaVuMetrics();
  // vega-lite's layout notes (e.g. on independent scales in facets) are not the user's concern.
  const vg = compile(spec, { logger: logger(None) }).spec;
  const view = new View(parse(vg), { renderer: 'none', logLevel: None });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string, font: FontChoice | null): Buffer {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: PNG_SCALE },
    font: font
      ? {
          loadSystemFonts: false,
          fontFiles: [...font.files],
          defaultFontFamily: font.family,
          sansSerifFamily: font.family,
        }
      : { loadSystemFonts: true },
  });
  return resvg.render().asPng();
}
