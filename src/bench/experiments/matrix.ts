// `bench matrix`: one linear layer y = x·wᵀ, x [rows, 1024], w [1024, 1024] (the prototype's 2304- and
// 23040-row products, and a sweep between), computed in the trusted process alone (the local engine)
// against split-exact and split-float on the experiment's accelerator, with RemoteLinearOps' phases:
// load (quantize/blind + frame), send, compute (accelerator-reported), receive, verify, unblind.
import { AcceleratorPool } from '../../enclave/accelerator-pool.js';
import { RemoteLinearOps } from '../../enclave/remote-linear-ops.js';
import { kernels } from '../../kernels/index.js';
import type { LinearOps } from '../../kernels/linear-ops.js';
import { defaultLinearOps } from '../../nn/backend.js';
import { SeededRng } from '../../tensor/seeded-rng.js';
import { Tensor } from '../../tensor/tensor.js';
import { fillUniform } from '../check.js';
import { median, sig } from '../stats.js';
import { type ExperimentContext, errorText } from './options.js';
import type { MatrixRecord, RunMode } from './schema.js';
import { remoteChoice } from './split-modes.js';

export const MATRIX_INNER = 1024;
export const MATRIX_COLS = 1024;
export const MATRIX_ROWS: readonly number[] = [2304, 4608, 9216, 18432, 23040];
export const MATRIX_ROWS_QUICK: readonly number[] = [2304, 4608];

type MatrixMode = 'trusted' | RunMode;
type Phase = 'load' | 'send' | 'compute' | 'receive' | 'verify' | 'unblind';

async function measure(
  ctx: ExperimentContext,
  rows: number,
  mode: MatrixMode,
  pool: () => Promise<AcceleratorPool>,
  what: string,
): Promise<MatrixRecord> {
  const base = { rows, inner: MATRIX_INNER, cols: MATRIX_COLS, mode };
  if (mode === 'native' || mode === 'enclave')
    throw new RangeError(`mode ${mode}: the matrix experiment compares 'trusted' (local engine) with split`);
  const rng = new SeededRng(rows);
  const x = new Tensor([rows, MATRIX_INNER]);
  const w = new Tensor([MATRIX_COLS, MATRIX_INNER]);
  fillUniform(rng, x.data);
  fillUniform(rng, w.data);
  for (let i = 0; i < w.size; i++) w.data[i]! /= 32; // weights of a 1024-input layer's init scale
  const choice = mode === 'trusted' ? undefined : remoteChoice(mode);
  kernels.setThreads(choice === undefined ? ctx.threads : ctx.splitThreads.trusted);
  const remote =
    choice === undefined ? null : new RemoteLinearOps(await pool(), { ...choice, warn: () => {} });
  const ops: LinearOps = remote ?? defaultLinearOps();
  const samples: { total: number; phases: Partial<Record<Phase, number>> }[] = [];
  for (let i = 0; i < ctx.warmup + ctx.repeats; i++) {
    remote?.resetStats();
    const t0 = performance.now();
    const y = await ops.dense(x, w);
    const total = performance.now() - t0;
    if (y.size !== rows * MATRIX_COLS) throw new RangeError(`dense returned ${y.size} values`);
    if (i < ctx.warmup) continue;
    const t = remote?.stats().total;
    samples.push({
      total,
      phases: t
        ? {
            load: t.quantizeMs,
            send: t.sendMs,
            compute: t.computeMs,
            receive: t.receiveMs,
            verify: t.verifyMs,
            unblind: t.dequantizeMs,
          }
        : { compute: total },
    });
    ctx.log(`${what}: sample ${samples.length}/${ctx.repeats} ${total.toFixed(1)} ms`);
  }
  const keys = Object.keys(samples[0]!.phases) as Phase[];
  return {
    ...base,
    phases: Object.fromEntries(keys.map((k) => [k, sig(median(samples.map((s) => s.phases[k]!)))])),
    totalMs: sig(median(samples.map((s) => s.total))),
  };
}

export async function runMatrix(ctx: ExperimentContext) {
  const rowsList = ctx.options.rows ?? (ctx.quick ? MATRIX_ROWS_QUICK : MATRIX_ROWS);
  const requested = ctx.options.modes;
  const modes: MatrixMode[] = ['trusted', ...(requested ?? ['split-exact', 'split-float'])];
  let poolP: Promise<AcceleratorPool> | null = null;
  const pool = () => {
    poolP ??= ctx.servers.accelerator(ctx.splitThreads.accelerator).then((a) => AcceleratorPool.connect([a]));
    return poolP;
  };
  const records: MatrixRecord[] = [];
  const total = rowsList.length * modes.length;
  let n = 0;
  try {
    for (const rows of rowsList) {
      for (const mode of modes) {
        n++;
        const what = `${rows}×${MATRIX_INNER} · ${MATRIX_INNER}×${MATRIX_COLS} ${mode} (${n}/${total})`;
        try {
          records.push(await measure(ctx, rows, mode, pool, what));
        } catch (e) {
          ctx.log(`${what}: failed: ${errorText(e)}`);
          records.push({ rows, inner: MATRIX_INNER, cols: MATRIX_COLS, mode, error: errorText(e) });
        }
      }
    }
  } finally {
    if (poolP) await (await (poolP as Promise<AcceleratorPool>).catch(() => null))?.close();
  }
  return { settings: { rows: rowsList, inner: MATRIX_INNER, cols: MATRIX_COLS, modes }, records };
}
