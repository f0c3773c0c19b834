// One training step and eval-mode helpers. Nothing outlives a call but the parameters, the optimizer
// state and the returned logits: backward releases each layer's saved activations, and the eval
// helpers drop what forward kept (memory stays bounded across steps). trainStep turns on the layers'
// buffer reuse (enableBufferReuse): activations and gradients live in per-layer buffers that the next
// step overwrites, so the logits handed back are copied out of them (`detached`).
import type { Tensor } from '../tensor/tensor.js';
import { detached } from '../tensor/workspace.js';
import type { CrossEntropyLoss, Labels } from './cross-entropy.js';
import { enableBufferReuse, releaseActivations } from './layer.js';
import type { Module } from './module.js';
import type { SGD } from './sgd.js';

export interface StepResult {
  readonly loss: number;
  /** [N,K] the train-mode logits of this step (before the update). */
  readonly logits: Tensor;
}

/** zeroGrad, forward (train mode), loss, backward, optimizer step; the model's layers reuse buffers. */
export async function trainStep(
  model: Module,
  loss: CrossEntropyLoss,
  optimizer: SGD,
  input: Tensor,
  labels: Labels,
): Promise<StepResult> {
  model.train();
  enableBufferReuse(model);
  optimizer.zeroGrad();
  try {
    const logits = await model.forward(input);
    const value = await loss.forward(logits, labels);
    const grad = await loss.backward();
    await model.backward(grad);
    optimizer.step();
    return { loss: value, logits: detached(logits) };
  } catch (e) {
    releaseActivations(model);
    loss.releaseSaved();
    throw e;
  }
}

/** Eval-mode forward: [N,…] → logits [N,K]. The model's train/eval mode is restored afterwards. */
export async function predict(model: Module, input: Tensor): Promise<Tensor> {
  const wasTraining = model.training;
  model.eval();
  try {
    return detached(await model.forward(input));
  } finally {
    releaseActivations(model);
    model.train(wasTraining);
  }
}

export interface EvalResult {
  readonly loss: number;
  readonly logits: Tensor;
  /** How many rows' argmax equals the label. */
  readonly correct: number;
}

/** Eval-mode forward and loss (no gradient, no update). */
export async function evaluate(
  model: Module,
  loss: CrossEntropyLoss,
  input: Tensor,
  labels: Labels,
): Promise<EvalResult> {
  const logits = await predict(model, input);
  const value = await loss.forward(logits, labels);
  loss.releaseSaved();
  const pred = argmaxRows(logits);
  let correct = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === Number(labels[i]!)) correct++;
  return { loss: value, logits, correct };
}

/** logits [N,K] → [N] index of each row's first maximum. */
export function argmaxRows(logits: Tensor): Int32Array {
  const [n, k] = logits.shape as [number, number];
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits.data[i * k + j]! > logits.data[i * k + best]!) best = j;
    out[i] = best;
  }
  return out;
}
