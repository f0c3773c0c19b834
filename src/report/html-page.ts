// report/index.html: one self-contained page (inline CSS, no script) with the charts as <img> of the
// SVGs next to it, which file of each experiment was used and which older ones were not, the
// machines, the commands, and a table with every record of every experiment, failed ones included.
import type { ExperimentName } from '../bench/experiments/schema.js';
import { isSide } from '../bench/results.js';
import type { Chart } from './chart.js';
import { escapeHtml, tableHtml } from './html-escape.js';
import type { LoadedResults } from './load-results.js';
import { EXPERIMENT_NAMES } from './validate-results.js';

const EXPERIMENT_TITLES: Record<ExperimentName, string> = {
  modes: 'Modes: step and epoch time',
  breakdown: 'Breakdown of a split-mode step',
  matrix: 'Linear-layer sweep',
  crypto: 'AES-256-GCM throughput',
  equivalence: 'Equivalence with the native reference',
  peer: 'Against PyTorch CPU',
};

const CSS = `
body { font-family: 'DejaVu Sans', Verdana, Arial, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1, h2, h3 { font-weight: 600; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; margin-top: 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
table.sub { font-size: 1em; margin: 0; }
tr.failed td { background: #fde8e8; }
tr.skipped td { background: #f4f4f4; color: #666; }
tr.over td { background: #fff3cd; }
code { font-size: 0.9em; word-break: break-all; }
.warnings { background: #fff3cd; border: 1px solid #e0c060; padding: 0.5em 1em; }
`;

export interface PageInput {
  readonly resultsDir: string;
  readonly generatedAt: string;
  readonly results: LoadedResults;
  readonly charts: readonly Chart[];
  readonly warnings: readonly string[];
}

function recordStatus(r: Record<string, unknown>): { status: string; cls: string } {
  if (typeof r.error === 'string') return { status: `failed: ${r.error}`, cls: 'failed' };
  if (typeof r.skipped === 'string') return { status: `skipped: ${r.skipped}`, cls: 'skipped' };
  if (r.pass === false) return { status: 'FAIL (over tolerance)', cls: 'over' };
  return { status: 'ok', cls: '' };
}

function recordsTable(records: readonly unknown[]): string {
  if (records.length === 0) return '<p>No records.</p>';
  const rows = records.map((rec) => {
    const { error: _e, skipped: _s, ...rest } = rec as Record<string, unknown>;
    return { status: recordStatus(rec as Record<string, unknown>).status, ...rest };
  });
  const classes = records.map((r) => recordStatus(r as Record<string, unknown>).cls);
  return tableHtml(rows, 'records', classes);
}

function runsSection(results: LoadedResults): string {
  const rows: Record<string, unknown>[] = [];
  for (const e of EXPERIMENT_NAMES) {
    const x = results.experiments[e];
    if (!x) continue;
    rows.push({
      experiment: e,
      file: x.name,
      startedAt: x.data.startedAt,
      finishedAt: x.data.finishedAt,
      records: x.data.records.length,
      failed: x.data.records.filter((r) => r.error !== undefined).length,
      command: x.data.command,
      settings: x.data.settings,
      'older runs (not used)': x.older.join(', '),
    });
  }
  for (const b of results.benches)
    rows.push({
      experiment: `bench kernels (${b.data.settings.threads} threads)`,
      file: b.name,
      startedAt: b.data.startedAt,
      finishedAt: b.data.finishedAt,
      records: b.data.workloads.length,
      failed: b.data.workloads.filter((w) => !isSide(w.ours)).length,
      command: '',
      settings: b.data.settings,
      'older runs (not used)': b.older.join(', '),
    });
  return `<h2>Runs</h2>\n<p>Where one experiment was run several times, the newest run (by its start time) is used.</p>\n${tableHtml(rows, 'runs')}`;
}

function machinesSection(results: LoadedResults): string {
  const machines = new Map<string, { machine: unknown; files: string[] }>();
  const add = (file: string, machine: unknown) => {
    const key = JSON.stringify(machine);
    const m = machines.get(key) ?? { machine, files: [] };
    m.files.push(file);
    machines.set(key, m);
  };
  for (const e of EXPERIMENT_NAMES) {
    const x = results.experiments[e];
    if (x) add(x.name, x.data.machine);
  }
  for (const b of results.benches) add(b.name, b.data.machine);
  const parts = [...machines.values()].map(({ machine, files }) => {
    const rows = Object.entries(machine as Record<string, unknown>).map(([k, v]) => ({ field: k, value: v }));
    return `<p>Used by: ${files.map((f) => `<code>${escapeHtml(f)}</code>`).join(', ')}</p>\n${tableHtml(rows, 'machine')}`;
  });
  const note =
    machines.size > 1
      ? '<p><strong>The results come from more than one machine or build</strong>: compare numbers across experiments with care.</p>'
      : '';
  return `<h2>Machine</h2>\n${note}\n${parts.join('\n')}`;
}

function benchTable(results: LoadedResults): string {
  return results.benches
    .map((b) => {
      const rows = b.data.workloads.map((w) => {
        const side = (s: unknown) => (isSide(s) ? s.medianMs : undefined);
        const why = (s: unknown) =>
          typeof s === 'object' && s !== null
            ? ((s as { error?: string }).error ?? (s as { skipped?: string }).skipped)
            : undefined;
        const problem = why(w.ours) ?? why(w.torch);
        return {
          status: isSide(w.ours)
            ? isSide(w.torch)
              ? 'ok'
              : `torch: ${problem ?? '?'}`
            : `failed: ${problem ?? '?'}`,
          id: w.id,
          label: w.label,
          group: w.group,
          'ours median ms': side(w.ours),
          'torch median ms': side(w.torch),
          ratio: w.ratio,
          cpuRatio: w.cpuRatio,
        };
      });
      const classes = rows.map((r) => (r.status.startsWith('failed') ? 'failed' : ''));
      return `<h3>bench kernels, ${b.data.settings.threads} thread(s): <code>${escapeHtml(b.name)}</code></h3>\n${tableHtml(rows, 'records', classes)}`;
    })
    .join('\n');
}

export function htmlPage(p: PageInput): string {
  const figures = p.charts
    .map(
      (c) =>
        `<figure id="${escapeHtml(c.stem)}">\n<img src="${escapeHtml(c.stem)}.svg" alt="${escapeHtml(c.title)}">\n` +
        `<figcaption>${escapeHtml(c.caption)} (<a href="${escapeHtml(c.stem)}.png">PNG</a>, <a href="${escapeHtml(c.stem)}.svg">SVG</a>)</figcaption>\n</figure>`,
    )
    .join('\n');
  const missing = EXPERIMENT_NAMES.filter((e) => !p.results.experiments[e]);
  const warnings = p.warnings.length
    ? `<div class="warnings"><p>Warnings:</p><ul>${p.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`
    : '';
  const numbers = EXPERIMENT_NAMES.map((e) => {
    const x = p.results.experiments[e];
    if (!x) return '';
    return `<h3 id="records-${e}">${escapeHtml(EXPERIMENT_TITLES[e])}: <code>${escapeHtml(x.name)}</code></h3>\n${recordsTable(x.data.records)}`;
  }).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tee-offload results</title>
<style>${CSS}</style>
</head>
<body>
<h1>tee-offload results</h1>
<p>Generated ${escapeHtml(p.generatedAt)} by <code>tee-offload report</code> from <code>${escapeHtml(p.resultsDir)}</code>.
${missing.length ? `No results for: ${missing.map(escapeHtml).join(', ')}.` : ''}</p>
${warnings}
<h2>Charts</h2>
${figures || '<p>No chart: no experiment has a successful record.</p>'}
${runsSection(p.results)}
${machinesSection(p.results)}
<h2>Numbers</h2>
<p>Every record of every experiment used, failed ones included (red: failed; grey: skipped; yellow: over tolerance).</p>
${numbers}
${benchTable(p.results)}
</body>
</html>
`;
}
