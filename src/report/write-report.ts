// writeReport(resultsDir, outDir): reads the experiment JSON (load-results.ts), draws each chart as
// SVG and PNG, and writes index.html. Unusable files and records become warnings, never a crash; a
// directory with nothing usable is E_FORMAT, a directory that cannot be read or written E_IO.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TeeError } from '../errors.js';
import { breakdownChart } from './breakdown-chart.js';
import type { Chart } from './chart.js';
import { cryptoChart } from './crypto-chart.js';
import { equivalenceChart } from './equivalence-chart.js';
import { findFont } from './find-font.js';
import { htmlPage } from './html-page.js';
import { loadResults } from './load-results.js';
import { matrixChart } from './matrix-chart.js';
import { matrixPhasesChart } from './matrix-phases-chart.js';
import { peerChart } from './peer-chart.js';
import { stepTimeChart } from './step-time-chart.js';

/** Every chart the report can write: those not written this time are removed from outDir. */
export const CHART_STEMS = [
  'step-time',
  'breakdown',
  'matrix',
  'matrix-phases',
  'crypto',
  'equivalence',
  'peer',
] as const;

export interface ReportResult {
  /** Paths of the files written, index.html last. */
  readonly files: string[];
  readonly warnings: string[];
}

function write(path: string, data: string | Buffer): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new TeeError('E_IO', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export async function writeReport(resultsDir: string, outDir: string): Promise<ReportResult> {
  // The chart renderer (vega, resvg) is loaded only here: every other command, the accelerator server
  // among them, starts without it.
  const { renderSvg, svgToPng } = await import('./render-chart.js');
  if (typeof resultsDir !== 'string' || resultsDir === '') throw new TypeError('resultsDir must be a path');
  if (typeof outDir !== 'string' || outDir === '') throw new TypeError('outDir must be a path');
  const results = loadResults(resultsDir);
  const warnings = [...results.warnings];
  const x = results.experiments;
  const candidates: (Chart | null)[] = [
    x.modes ? stepTimeChart(x.modes.data.records) : null,
    x.breakdown ? breakdownChart(x.breakdown.data.records) : null,
    x.matrix ? matrixChart(x.matrix.data.records) : null,
    x.matrix ? matrixPhasesChart(x.matrix.data.records) : null,
    x.crypto ? cryptoChart(x.crypto.data.records) : null,
    x.equivalence ? equivalenceChart(x.equivalence.data.records) : null,
    x.peer || results.benches.length ? peerChart(x.peer?.data.records ?? [], results.benches) : null,
  ];
  for (const [e, loaded] of Object.entries(x))
    if (loaded.data.records.length > 0 && loaded.data.records.every((r) => r.error !== undefined))
      warnings.push(`${loaded.name}: every record failed; no chart for '${e}'`);
  const charts = candidates.filter((c): c is Chart => c !== null);

  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new TeeError('E_IO', `cannot create ${outDir}: ${(e as Error).message}`, { cause: e });
  }
  const font = charts.length > 0 ? findFont() : null;
  if (charts.length > 0 && font === null)
    warnings.push(
      'no font found (install fonts-dejavu-core): the PNG charts may have no text; the SVGs are complete',
    );
  const files: string[] = [];
  for (const c of charts) {
    const svg = await renderSvg(c.spec);
    const svgPath = join(outDir, `${c.stem}.svg`);
    write(svgPath, svg);
    files.push(svgPath);
    const pngPath = join(outDir, `${c.stem}.png`);
    write(pngPath, svgToPng(svg, font));
    files.push(pngPath);
  }
  // A chart from an earlier report must not sit next to this one's page as if it were current.
  for (const stem of CHART_STEMS)
    if (!charts.some((c) => c.stem === stem))
      for (const ext of ['svg', 'png']) rmSync(join(outDir, `${stem}.${ext}`), { force: true });
  const indexPath = join(outDir, 'index.html');
  write(
    indexPath,
    htmlPage({
      resultsDir: resolve(resultsDir),
      generatedAt: new Date().toISOString(),
      results,
      charts,
      warnings,
    }),
  );
  files.push(indexPath);
  return { files, warnings };
}
