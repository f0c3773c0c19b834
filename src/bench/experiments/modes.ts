// `bench modes`: the prototype's four ways to train (plus split with each integrity level): one SGD step
// at batch 1 and an epoch of 64 images at batch 4, per model and input size, median of the repeats. The
// accelerator and the trusted process are started once for the whole experiment.
import { median, sig } from '../stats.js';
import { DEFAULT_MODELS, type ExperimentContext, errorText, sizesOf, type Workload } from './options.js';
import type { ModesRecord, RunMode } from './schema.js';
import { trainInMode } from './train-run.js';
import { DEFAULT_TIMED_MODES } from './validate.js';

export const EPOCH_IMAGES = 64;

export async function runModes(ctx: ExperimentContext) {
  const o = ctx.options;
  const models = o.models ?? DEFAULT_MODELS;
  const sizes = sizesOf(ctx, 224, 64);
  const batches = o.batches ?? [1, 4];
  const stepBatch = batches[0]!;
  const epochBatch = batches[1] ?? batches[0]!;
  const modes = o.modes ?? DEFAULT_TIMED_MODES;
  const workloads: readonly Workload[] = o.workloads ?? ['step', 'epoch64'];
  const records: ModesRecord[] = [];
  const total = models.length * sizes.length * workloads.length * modes.length;
  let n = 0;
  for (const model of models) {
    for (const size of sizes) {
      for (const workload of workloads) {
        const batch = workload === 'step' ? stepBatch : epochBatch;
        const images = workload === 'step' ? batch : EPOCH_IMAGES;
        for (const mode of modes) {
          n++;
          const base = { model, size, batch, workload, mode, images } as const;
          const what = `${model} ${size}² ${workload} b${batch} ${mode} (${n}/${total})`;
          const samples: number[] = [];
          try {
            for (let i = 0; i < ctx.warmup; i++) {
              ctx.log(`${what}: warm-up ${i + 1}/${ctx.warmup}`);
              await trainInMode(
                { model, size, batch, images, threads: ctx.threads },
                mode,
                ctx.servers,
                ctx.splitThreads,
              );
            }
            for (let i = 0; i < ctx.repeats; i++) {
              const r = await trainInMode(
                { model, size, batch, images, threads: ctx.threads },
                mode,
                ctx.servers,
                ctx.splitThreads,
              );
              samples.push(r.ms);
              ctx.log(`${what}: sample ${i + 1}/${ctx.repeats} ${r.ms.toFixed(0)} ms`);
            }
            const m = median(samples);
            records.push({
              ...base,
              samplesMs: samples.map((x) => sig(x)),
              medianMs: sig(m),
              imagesPerSec: sig((images * 1000) / m),
            });
          } catch (e) {
            ctx.log(`${what}: failed: ${errorText(e)}`);
            records.push({ ...base, error: errorText(e) });
          }
        }
      }
    }
  }
  return {
    settings: {
      models,
      sizes,
      batches: [stepBatch, epochBatch],
      workloads,
      modes: modes as RunMode[],
      epochImages: EPOCH_IMAGES,
    },
    records,
  };
}
