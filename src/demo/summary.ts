// The demo's closing summary: time per mode, where a split step's time goes, the checks, the traffic,
// and how closely enclave and split training agree with native.
import { breakdownRecord, splitFirstLossTolerance } from './demo-results.js';
import { type DemoOutcome, fmtPct } from './run-demo.js';

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

const LABEL = { native: 'native', enclave: 'enclave', split: 'split' } as const;

/** 'exact' (the wide field), 'exact, p24' or 'float'. */
function integrityLabel(o: DemoOutcome): string {
  return o.field === 'p24' ? 'exact, p24' : o.integrity;
}

export function formatSummary(o: DemoOutcome, reportPath: string | null): string {
  const lines: string[] = [];
  const native = o.runs.find((r) => r.mode === 'native');
  lines.push(
    `summary: ${o.settings.model}, ${o.runs[0]!.steps} steps of ${o.settings.batchSize} images (${o.data.kind}), ${integrityLabel(o)} integrity in split mode`,
  );
  lines.push('');
  lines.push(
    `${pad('mode', 16)}${pad('time', 10, true)}${pad('img/s', 9, true)}${pad('× native', 10, true)}${pad('test acc', 10, true)}${pad('final loss', 12, true)}`,
  );
  for (const r of o.runs) {
    const name = r.mode === 'split' ? `${LABEL.split} (${integrityLabel(o)})` : LABEL[r.mode];
    const slow = native ? (native.imagesPerSec / r.imagesPerSec).toFixed(2) : 'n/a';
    lines.push(
      `${pad(name, 16)}${pad(`${r.seconds.toFixed(1)} s`, 10, true)}${pad(r.imagesPerSec.toFixed(1), 9, true)}${pad(slow, 10, true)}${pad(fmtPct(r.accuracy), 10, true)}${pad(r.finalLoss.toFixed(4), 12, true)}`,
    );
  }
  lines.push('  (time: the whole run with start-up and evaluation; img/s: training steps only)');
  const split = o.runs.find((r) => r.mode === 'split');
  const rt = split?.remote;
  const b = breakdownRecord(o);
  if (split && rt && b?.byKind && b.totalMs !== undefined) {
    const phases = b.byKind.filter((k) => k.kind !== 'other');
    const remote = phases.reduce((sum, k) => sum + k.ms, 0);
    const name = (kind: string) => (kind === 'unblind' ? 'dequantize' : kind);
    lines.push('');
    lines.push(`split step, ms per step (of ${b.totalMs.toFixed(0)} ms):`);
    lines.push(
      `  ${phases.map((k) => `${name(k.kind)} ${k.ms.toFixed(1)}`).join(' · ')} · ${
        remote < b.totalMs
          ? `trusted layers, loss, SGD and the rest ${(b.totalMs - remote).toFixed(1)}`
          : 'the rest: not separable here (a layer’s two backward products overlap in time, so the phases add up to more than the step)'
      }`,
    );
    lines.push(
      `verification: ${rt.calls} products checked with Freivalds, all passed; ${rt.failures} replies refused, ${rt.retries} retries`,
    );
    lines.push(`traffic: ${bytes(rt.bytesSent)} to the accelerator, ${bytes(rt.bytesReceived)} back`);
  }
  lines.push('');
  for (const a of o.agreement) {
    const run = o.runs.find((r) => r.mode === a.mode)!;
    if (a.mode === 'enclave') {
      const same = a.state.identical === a.state.tensors && a.maxLossDiff === 0;
      lines.push(
        same
          ? `enclave vs native: bit-identical (${a.state.identical}/${a.state.tensors} tensors, every loss equal)`
          : `enclave vs native: NOT bit-identical: ${a.state.identical}/${a.state.tensors} tensors equal, max |Δ loss| ${a.maxLossDiff.toExponential(2)}, max |Δ weight| ${a.state.maxAbsDiff.toExponential(2)} (${a.state.worst})`,
      );
    } else {
      const dAcc =
        run.accuracy !== null && native?.accuracy != null
          ? `, test accuracy ${fmtPct(run.accuracy)} vs ${fmtPct(native.accuracy)}`
          : '';
      const tolerance = splitFirstLossTolerance(o);
      const ok = a.firstLossDiff <= tolerance;
      lines.push(
        `split (${integrityLabel(o)}) vs native: first-step |Δ loss| ${a.firstLossDiff.toExponential(2)} (${ok ? 'within' : 'OUTSIDE'} ${tolerance}); the runs then drift apart: max |Δ loss| ${a.maxLossDiff.toExponential(2)} over ${run.losses.length} steps${dAcc}`,
      );
    }
  }
  if (reportPath) lines.push(`report: ${reportPath}`);
  return lines.join('\n');
}
