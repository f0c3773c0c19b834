// `bench peer`: the modes experiment's step workloads (one SGD step per model, size and batch) in PyTorch
// CPU beside ours, samples interleaved, same thread count (bench/torch_kernels.py through torch-side.ts);
// ratio = torch ms / our ms (> 1: we are faster). Without a python3 that imports torch and torchvision,
// every record is kept with `skipped` and nothing is timed.

import { kernels } from '../../kernels/index.js';
import { median, sig } from '../stats.js';
import { TorchSide } from '../torch-side.js';
import { prepareTrain } from '../train-ours.js';
import { DEFAULT_MODELS, type ExperimentContext, errorText, NUM_CLASSES, sizesOf } from './options.js';
import type { PeerRecord } from './schema.js';
import { checkModelName } from './train-run.js';

export async function runPeer(ctx: ExperimentContext) {
  const o = ctx.options;
  const models = o.models ?? DEFAULT_MODELS;
  const sizes = sizesOf(ctx, 224, 64);
  const batches = o.batches ?? [1, 4];
  const threads = ctx.threads;
  const settings = { models, sizes, batches, threads };
  const records: PeerRecord[] = [];
  const started =
    o.torch === false
      ? { skipped: 'PyTorch side disabled (--no-torch)' }
      : await TorchSide.start(threads, ctx.env);
  if ('skipped' in started) {
    ctx.log(`PyTorch side skipped: ${started.skipped}`);
    for (const model of models)
      for (const size of sizes)
        for (const batch of batches) records.push({ model, size, batch, threads, skipped: started.skipped });
    return { settings, records };
  }
  const torch = started;
  kernels.setThreads(threads);
  try {
    const total = models.length * sizes.length * batches.length;
    let n = 0;
    for (const model of models) {
      for (const size of sizes) {
        for (const batch of batches) {
          n++;
          const what = `${model} ${size}² b${batch} (${n}/${total})`;
          try {
            checkModelName(model);
            const spec = { kind: 'train', model, batch, size, numClasses: NUM_CLASSES } as const;
            const ours = await prepareTrain(spec, { check: false });
            await torch.prepare(spec as unknown as Record<string, unknown>);
            for (let i = 0; i < Math.max(1, ctx.warmup); i++) {
              await ours.run();
              await torch.sample(1);
            }
            const oursMs: number[] = [];
            const torchMs: number[] = [];
            for (let i = 0; i < ctx.repeats; i++) {
              const t0 = performance.now();
              await ours.run();
              oursMs.push(performance.now() - t0);
              torchMs.push((await torch.sample(1)).ms);
              ctx.log(
                `${what}: sample ${i + 1}/${ctx.repeats} ours ${oursMs.at(-1)!.toFixed(0)} ms, torch ${torchMs.at(-1)!.toFixed(0)} ms`,
              );
            }
            await torch.finish();
            const a = median(oursMs);
            const b = median(torchMs);
            records.push({ model, size, batch, threads, oursMs: sig(a), torchMs: sig(b), ratio: sig(b / a) });
          } catch (e) {
            ctx.log(`${what}: failed: ${errorText(e)}`);
            records.push({ model, size, batch, threads, error: errorText(e) });
          }
        }
      }
    }
  } finally {
    await torch.close();
  }
  return { settings: { ...settings, torch: torch.versions }, records };
}
