// One Markdown table from several `bench kernels` JSON files (typically threads 1 and 2): a row per
// workload, `ours | torch | ratio` per file. Reads only the JSON, so a table can be redone any time.
import { readFileSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { type BenchReport, isSide, type WorkloadResult } from './results.js';

export function readReport(file: string): BenchReport {
  let r: BenchReport;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (r?.kind !== 'tee-offload/bench-kernels' || r.version !== 1) {
    throw new TeeError('E_FORMAT', `${file} is not a tee-offload bench-kernels result (version 1)`);
  }
  return r;
}

function value(s: WorkloadResult['ours'] | WorkloadResult['torch'], train: boolean): string {
  if (!isSide(s)) return 'error' in s ? 'error' : '–';
  return train ? s.medianMs.toFixed(0) : s.gflops!.toFixed(1);
}

export function formatCombined(reports: readonly BenchReport[]): string {
  const head = ['workload'];
  for (const r of reports) {
    const t = r.settings.threads;
    head.push(`ours T${t}`, `torch T${t}`, `ratio T${t}`);
  }
  const ids: string[] = [];
  for (const r of reports) for (const w of r.workloads) if (!ids.includes(w.id)) ids.push(w.id);
  const rows = ids.map((id) => {
    const any = reports.flatMap((r) => r.workloads).find((w) => w.id === id)!;
    const train = any.group === 'train';
    const row = [train ? `${any.label} (ms/step)` : `${any.label} (GFLOP/s)`];
    for (const r of reports) {
      const w = r.workloads.find((x) => x.id === id);
      if (!w) row.push('', '', '');
      else
        row.push(
          value(w.ours, train),
          value(w.torch, train),
          w.ratio === null ? '–' : `${w.ratio.toFixed(2)}×`,
        );
    }
    return row;
  });
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const notes = reports.map(
    (r) =>
      `T${r.settings.threads}: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}, ` +
      `torch ${'torch' in r.torch ? r.torch.torch : 'skipped'}, kernels ${r.machine.kernels.blas}/${r.machine.kernels.conv}, ` +
      `git ${r.machine.gitRevision?.slice(0, 10) ?? '?'}, ${r.settings.repeats} repeats, load ${r.loadAverageAtStart?.join(' ') ?? '?'}`,
  );
  return [
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
    ...notes,
  ].join('\n');
}
