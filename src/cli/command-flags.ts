// The parseArgs option tables of train, infer and eval, each written once: the native commands parse
// with them, and run-modes.ts adds its MODE_FLAGS to them for --mode enclave|split|accelerator.
// Which flags each command accepts is pinned by test/cli/command-flags.test.ts.
import type { parseFlags } from './parse.js';

export type Flags = NonNullable<Parameters<typeof parseFlags>[1]>;

/** The model and its weights (tee-offload models; .safetensors or PyTorch .pth). */
const MODEL_FLAGS: Flags = {
  model: { type: 'string' },
  'num-classes': { type: 'string' },
  'input-size': { type: 'string' },
  weights: { type: 'string' },
  'strip-prefix': { type: 'string' },
};

/** The data set and how it is batched. */
const DATA_FLAGS: Flags = {
  data: { type: 'string' },
  'batch-size': { type: 'string' },
};

/** Kernel threads and the output format. */
const RUN_FLAGS: Flags = {
  threads: { type: 'string' },
  json: { type: 'boolean' },
};

export const TRAIN_FLAGS: Flags = {
  ...MODEL_FLAGS,
  ...DATA_FLAGS,
  epochs: { type: 'string' },
  steps: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  nesterov: { type: 'boolean' },
  schedule: { type: 'string' },
  save: { type: 'string' },
  checkpoint: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'string' },
  seed: { type: 'string' },
  dropout: { type: 'string' },
  'no-augment': { type: 'boolean' },
  ...RUN_FLAGS,
};

/** train in this process (--mode native): TRAIN_FLAGS and the kernels' determinism, which only it sets. */
export const NATIVE_TRAIN_FLAGS: Flags = {
  ...TRAIN_FLAGS,
  'no-deterministic': { type: 'boolean' },
};

export const INFER_FLAGS: Flags = {
  ...MODEL_FLAGS,
  ...DATA_FLAGS,
  topk: { type: 'string' },
  limit: { type: 'string' },
  ...RUN_FLAGS,
};

export const EVAL_FLAGS: Flags = {
  ...MODEL_FLAGS,
  ...DATA_FLAGS,
  split: { type: 'string' },
  ...RUN_FLAGS,
};
