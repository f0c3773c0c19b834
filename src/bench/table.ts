// Plain-text tables for the terminal and docs: workload | ours | torch | ratio (ours speed / torch
// speed, so > 1 means we are faster).
import { isSide, type MemoryCheck, type SideResult, type WorkloadResult } from './results.js';

function cell(r: WorkloadResult['ours'] | WorkloadResult['torch'], train: boolean): string {
  if (!isSide(r)) return 'error' in r ? 'error' : 'skipped';
  const s = r as SideResult;
  if (train) return `${s.medianMs.toFixed(0)} ms (${s.imagesPerSec?.toFixed(2)} img/s)`;
  return `${s.gflops?.toFixed(1)} GFLOP/s`;
}

function rss(r: WorkloadResult['ours'] | WorkloadResult['torch']): string {
  return isSide(r) && r.peakRssMiB !== null ? String(r.peakRssMiB) : '–';
}

/** A Markdown table (readable as plain text too). */
export function formatTable(results: readonly WorkloadResult[], threads: number): string {
  const rows: string[][] = [
    ['workload', 'ours', 'torch', 'ratio', 'CPU-time ratio', 'peak RSS MiB ours / torch'],
  ];
  for (const r of results) {
    const train = r.group === 'train';
    const ratio = r.ratio === null ? '–' : `${r.ratio.toFixed(2)}×`;
    rows.push([
      r.label,
      cell(r.ours, train),
      cell(r.torch, train),
      ratio,
      r.cpuRatio === null || r.cpuRatio === undefined ? '–' : `${r.cpuRatio.toFixed(2)}×`,
      train ? `${rss(r.ours)} / ${rss(r.torch)}` : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [
    `threads = ${threads}`,
    '',
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
  ];
  for (const row of rows.slice(1)) out.push(line(row));
  return out.join('\n');
}

export function formatMemory(m: MemoryCheck): string {
  const pct = (g: number | null) => (g === null || Number.isNaN(g) ? '–' : `${(g * 100).toFixed(1)}%`);
  const series = (pts: readonly { rssMiB: number }[]) => pts.map((p) => p.rssMiB).join(' ');
  return [
    `memory: ${m.model} ${m.size}² b${m.batch}, ${m.steps} steps, RSS (MiB) every ${m.every} steps`,
    `  ours : ${series(m.ours)}  growth step ${m.from}→${m.to}: ${pct(m.oursGrowth)}${m.flagged ? `  ** FLAGGED (> ${m.threshold * 100}%) **` : ''}`,
    m.torch
      ? `  torch: ${series(m.torch)}  growth step ${m.from}→${m.to}: ${pct(m.torchGrowth)}`
      : '  torch: skipped',
  ].join('\n');
}
