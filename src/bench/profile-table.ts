// Text for `bench profile`: phases, categories, our heaviest kernels and shapes, and the per-conv
// comparison sorted by what each kernel costs us per step.
import { PHASES, type ProfileReport } from './profile-report.js';

function table(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const f = (x: number | null, d = 1) => (x === null ? '–' : x.toFixed(d));
const ratio = (torch: number | null, ours: number) =>
  torch === null || ours <= 0 ? '–' : `${(torch / ours).toFixed(2)}×`;

function convSummary(r: ProfileReport): string {
  const sum = (pick: (c: ProfileReport['convs'][number]) => number | null) =>
    r.convs.reduce((a, c) => a + c.callsPerStep * (pick(c) ?? 0), 0);
  const torch = r.convs.some((c) => c.torchAloneMs !== null)
    ? `, torch alone ${f(sum((c) => c.torchAloneMs))}`
    : '';
  return `convolutions per step: ours in the step ${f(sum((c) => c.oursInStepMs))}, ours alone ${f(sum((c) => c.oursAloneMs))}${torch} ms (in step − alone = fresh output pages, cache)`;
}

export function formatProfile(r: ProfileReport): string {
  const s = r.spec;
  const out = [
    `profile: ${s.model} ${s.size}² batch ${s.batch}, ${s.threads} threads, ${s.steps} steps (ms per step)`,
    '',
  ];
  const t = r.torch;
  out.push(
    table(
      ['phase', 'ours', 'torch', 'ratio'],
      [
        ...PHASES.map((p) => [
          p,
          f(r.ours.phasesMs[p]),
          f(t ? t.phasesMs[p] : null),
          ratio(t ? t.phasesMs[p] : null, r.ours.phasesMs[p]),
        ]),
        ['step', f(r.ours.stepMs), f(t ? t.stepMs : null), ratio(t ? t.stepMs : null, r.ours.stepMs)],
      ],
    ),
    '',
    `ours outside kernels (JS, allocation, layer glue): ${f(r.ours.outsideKernelsMs)} ms per step, ` +
      `of which GC pauses ${f(r.ours.gcMs)} ms (${Object.entries(r.ours.gcKinds)
        .map(([k, v]) => `${k} ${f(v.count)}× ${f(v.ms)} ms`)
        .join(', ')})`,
    convSummary(r),
    '',
    table(
      ['category', 'ours', 'torch (self time)', 'ratio'],
      r.categories.map((c) => [c.category, f(c.oursMs), f(c.torchMs), ratio(c.torchMs, c.oursMs)]),
    ),
    '',
    table(
      ['our kernel', 'calls', 'ms'],
      r.ours.methods.map((m) => [m.method, f(m.callsPerStep, 0), f(m.msPerStep)]),
    ),
    '',
    table(
      ['conv', 'pass', 'calls', 'ours in step', 'ours alone', 'torch alone', 'ratio', 'lost ms/step'],
      r.convs.map((c) => [
        c.shape,
        c.pass,
        f(c.callsPerStep, 0),
        f(c.oursInStepMs, 2),
        f(c.oursAloneMs, 2),
        f(c.torchAloneMs, 2),
        ratio(c.torchAloneMs, c.oursAloneMs),
        f(c.lostMsPerStep),
      ]),
    ),
  );
  if (t) {
    out.push(
      '',
      table(
        ['torch op (top 12 by self time)', 'calls', 'self ms'],
        t.ops.slice(0, 12).map((o) => [o.name, f(o.calls, 0), f(o.selfMs)]),
      ),
    );
  }
  return out.join('\n');
}
