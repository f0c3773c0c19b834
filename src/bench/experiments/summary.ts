// The summary table `bench EXPERIMENT` prints on stdout: one plain-text table per experiment file, a
// failed record shown with its error, a skipped one with its reason. The JSON is the result; this is a view.
import type {
  BreakdownRecord,
  CryptoRecord,
  EquivalenceRecord,
  ExperimentFile,
  MatrixRecord,
  ModesRecord,
  PeerRecord,
} from './schema.js';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const fmt = (x: number | undefined, digits = 1): string => (x === undefined ? '' : x.toFixed(digits));
const fail = (e: string) => `error: ${e.length > 100 ? `${e.slice(0, 97)}...` : e}`;

function modes(rs: readonly ModesRecord[]): string {
  return table(
    ['model', 'size', 'workload', 'batch', 'mode', 'median ms', 'images/s', 'samples ms'],
    rs.map((r) => [
      r.model,
      String(r.size),
      r.workload,
      String(r.batch),
      r.mode,
      ...(r.error !== undefined
        ? ['', '', fail(r.error)]
        : [fmt(r.medianMs), fmt(r.imagesPerSec, 2), (r.samplesMs ?? []).map((x) => x.toFixed(0)).join(' ')]),
    ]),
  );
}

function breakdown(rs: readonly BreakdownRecord[]): string {
  const parts: string[] = [];
  for (const r of rs) {
    const head = `${r.model} ${r.size}² b${r.batch} ${r.mode}`;
    if (r.error !== undefined) {
      parts.push(`${head}: ${fail(r.error)}`);
      continue;
    }
    const total = r.totalMs ?? 0;
    const kinds = (r.byKind ?? []).filter((k) => k.ms > 0);
    const mib = (b: number | undefined) => (b === undefined ? '' : `${(b / 2 ** 20).toFixed(1)} MiB`);
    parts.push(
      `${head}: ${fmt(total)} ms per step` +
        (r.bytesSent === undefined
          ? ''
          : `, sent ${mib(r.bytesSent)}, received ${mib(r.bytesReceived)}, checks ${r.checksPassed}/${r.checks}`),
    );
    parts.push(
      table(
        ['kind', 'ms', '%'],
        kinds.map((k) => [k.kind, fmt(k.ms), total > 0 ? fmt((100 * k.ms) / total) : '']),
      ),
    );
    const top = [...(r.byLayer ?? [])].sort((a, b) => b.ms - a.ms).slice(0, 8);
    parts.push(
      table(
        ['slowest layers', 'type', 'ms', 'phases (ms)'],
        top.map((l) => [
          l.layer,
          l.type,
          fmt(l.ms),
          Object.entries(l.phases ?? {})
            .filter(([, v]) => (v ?? 0) >= 0.05)
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(', '),
        ]),
      ),
    );
  }
  return parts.join('\n\n');
}

function matrix(rs: readonly MatrixRecord[]): string {
  const ph = ['load', 'send', 'compute', 'receive', 'verify', 'unblind'] as const;
  return table(
    ['rows×inner×cols', 'mode', 'total ms', ...ph],
    rs.map((r) => [
      `${r.rows}×${r.inner}×${r.cols}`,
      r.mode,
      ...(r.error !== undefined ? [fail(r.error)] : [fmt(r.totalMs), ...ph.map((p) => fmt(r.phases?.[p]))]),
    ]),
  );
}

function crypto(rs: readonly CryptoRecord[]): string {
  return table(
    ['where', 'op', 'bytes', 'median ms', 'GB/s'],
    rs.map((r) => [
      r.where,
      r.op,
      String(r.bytes),
      ...(r.error !== undefined ? [fail(r.error)] : [fmt(r.medianMs), fmt(r.gbPerSec, 3)]),
    ]),
  );
}

function equivalence(rs: readonly EquivalenceRecord[]): string {
  // Per-parameter gradients are in the JSON; the table shows the headline quantities.
  const shown = rs.filter((r) => !r.quantity.startsWith('grad:'));
  const e = (x: number | undefined) => (x === undefined ? '' : x.toExponential(2));
  return table(
    ['mode', 'threads', 'phase', 'quantity', 'max |Δ|', 'max |ref|', 'tolerance', 'bit-identical?', 'pass'],
    shown.map((r) => [
      r.mode,
      String(r.threads),
      r.phase,
      r.quantity,
      ...(r.error !== undefined
        ? ['', '', '', '', fail(r.error)]
        : [
            e(r.maxAbsDiff),
            e(r.maxAbsRef),
            e(r.tolerance),
            r.bitIdenticalExpected ? 'expected' : 'no',
            r.pass ? 'yes' : 'NO',
          ]),
    ]),
  );
}

function peer(rs: readonly PeerRecord[]): string {
  return table(
    ['model', 'size', 'batch', 'threads', 'ours ms', 'torch ms', 'torch/ours'],
    rs.map((r) => [
      r.model,
      String(r.size),
      String(r.batch),
      String(r.threads),
      ...(r.error !== undefined
        ? [fail(r.error)]
        : r.skipped !== undefined
          ? [`skipped: ${r.skipped}`]
          : [fmt(r.oursMs), fmt(r.torchMs), fmt(r.ratio, 2)]),
    ]),
  );
}

export function formatExperiment(file: ExperimentFile): string {
  const title = `${file.experiment} (${file.records.length} records, ${file.machine.cores} cores, load ${file.machine.loadAverage.join(' ')})`;
  const body = (() => {
    switch (file.experiment) {
      case 'modes':
        return modes(file.records as readonly ModesRecord[]);
      case 'breakdown':
        return breakdown(file.records as readonly BreakdownRecord[]);
      case 'matrix':
        return matrix(file.records as readonly MatrixRecord[]);
      case 'crypto':
        return crypto(file.records as readonly CryptoRecord[]);
      case 'equivalence':
        return equivalence(file.records as readonly EquivalenceRecord[]);
      case 'peer':
        return peer(file.records as readonly PeerRecord[]);
    }
  })();
  return `${title}\n${body}`;
}
