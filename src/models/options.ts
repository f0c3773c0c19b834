// Options shared by every model builder, and the torchvision-like seeded initialisation.
import { type BackendOptions, resolveBackend } from '../nn/backend.js';
import { Conv2d } from '../nn/conv2d.js';
import { fillUniform } from '../nn/init.js';
import { modulesOf } from '../nn/layer.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { SeededRng } from '../tensor/seeded-rng.js';

export interface ModelOptions extends BackendOptions {
  /** Size of the last layer (default 1000, as torchvision). */
  readonly numClasses?: number;
  /** Dropout probability of the classifier (AlexNet, VGG; default 0.5). */
  readonly dropout?: number;
  /** Seeds the initial weights and the dropout masks (default 0). */
  readonly seed?: number;
}

export interface ResolvedOptions {
  readonly numClasses: number;
  readonly dropout: number;
  readonly seed: number;
  readonly backend: BackendOptions;
}

export function resolveModelOptions(opts: ModelOptions = {}): ResolvedOptions {
  const numClasses = opts.numClasses ?? 1000;
  const dropout = opts.dropout ?? 0.5;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (!(dropout >= 0 && dropout <= 1)) throw new RangeError(`dropout must be in [0, 1], got ${dropout}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  // Resolved once, so that every layer of the model shares one pair.
  return { numClasses, dropout, seed, backend: resolveBackend(opts) };
}

/** The i-th dropout mask generator of a model seeded with `seed` (independent of the weights' RNG). */
export function dropoutRng(seed: number, i: number): SeededRng {
  return new SeededRng((Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(i + 1, 0x9e3779b9)) >>> 0);
}

/**
 * How a family initialises Conv2d and Linear layers (BatchNorm is always weight 1, bias 0):
 * 'kaiming-fan-out': conv weight U(±√(6/fan_out)), the uniform twin of torchvision's
 *   kaiming_normal_(mode='fan_out', nonlinearity='relu'), conv bias 0;
 * linear 'normal-0.01': U(±0.01·√3) (same variance as torchvision VGG's N(0, 0.01)), bias 0;
 * 'default': PyTorch's default U(±1/√fan_in) for weight and bias.
 */
export interface InitScheme {
  readonly conv: 'kaiming-fan-out' | 'default';
  readonly linear: 'normal-0.01' | 'default';
}

export function initModel(model: Module, scheme: InitScheme, seed: number): void {
  const rng = new SeededRng(seed);
  for (const m of modulesOf(model)) {
    if (m instanceof Conv2d) {
      const k2 = m.kernelSize * m.kernelSize;
      if (scheme.conv === 'kaiming-fan-out') {
        fillUniform(m.weight.data, Math.sqrt(6 / (m.outChannels * k2)), rng);
        m.bias?.data.fill(0);
      } else {
        const b = 1 / Math.sqrt(m.inChannels * k2);
        fillUniform(m.weight.data, b, rng);
        if (m.bias !== null) fillUniform(m.bias.data, b, rng);
      }
    } else if (m instanceof Linear) {
      if (scheme.linear === 'normal-0.01') {
        fillUniform(m.weight.data, 0.01 * Math.sqrt(3), rng);
        m.bias?.data.fill(0);
      } else {
        const b = 1 / Math.sqrt(m.inFeatures);
        fillUniform(m.weight.data, b, rng);
        if (m.bias !== null) fillUniform(m.bias.data, b, rng);
      }
    }
  }
}
