// Shared by train/infer/eval: build a model from the command line and load --weights into it
// (safetensors or a PyTorch .pth, strict names and shapes; a classifier of another size is replaced,
// as when fine-tuning ImageNet weights on 10 classes, and the command says so).

import { replaceHead } from '../io/state-dict.js';
import { readWeightsFile } from '../io/weights-file.js';
import { createModel, describeModel, isModelName, modelNames } from '../models/index.js';
import type { Module } from '../nn/module.js';
import { UsageError } from './command.js';
import type { ParsedFlags } from './parse.js';

export interface ModelSetup {
  readonly model: string;
  readonly numClasses: number;
  readonly inputSize: number;
  readonly seed: number;
  readonly dropout?: number;
  readonly weights?: string;
  readonly stripPrefix?: string;
  /** Where notes go (stderr by default). */
  readonly log?: (line: string) => void;
}

export function checkModelArgs(name: string, numClasses: number, inputSize: number): void {
  if (!isModelName(name)) throw new UsageError(`unknown model '${name}' (known: ${modelNames.join(', ')})`);
  const d = describeModel(name, { numClasses, inputSize });
  if (inputSize < d.minInputSize) {
    throw new UsageError(
      `${name} needs an input of at least ${d.minInputSize}×${d.minInputSize}, got ${inputSize}`,
    );
  }
}

/**
 * The model of --model with --weights [--strip-prefix] loaded (infer, eval, precompute); seed 0, which
 * only a replaced classifier uses.
 */
export function modelWithWeights(
  values: ParsedFlags['values'],
  numClasses: number,
  inputSize: number,
): Module {
  const stripPrefix = values['strip-prefix'] as string | undefined;
  return buildModel({
    model: values.model as string,
    numClasses,
    inputSize,
    seed: 0,
    weights: values.weights as string,
    ...(stripPrefix === undefined ? {} : { stripPrefix }),
  });
}

export function buildModel(o: ModelSetup): Module {
  checkModelArgs(o.model, o.numClasses, o.inputSize);
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const model = createModel(o.model, {
    numClasses: o.numClasses,
    seed: o.seed,
    ...(o.dropout === undefined ? {} : { dropout: o.dropout }),
  });
  if (o.weights !== undefined) {
    const { tensors, format } = readWeightsFile(o.weights);
    const opts = o.stripPrefix === undefined ? {} : { stripPrefix: o.stripPrefix };
    const report = replaceHead(model, tensors, opts);
    if (report.skipped.length > 0) {
      log(
        `note: ${o.weights} has a classifier of another size; ${report.skipped.join(', ')} keep a fresh initialisation for ${o.numClasses} classes (fine-tuning)`,
      );
    }
    log(`loaded ${report.loaded.length} tensors from ${o.weights} (${format})`);
  }
  return model;
}
