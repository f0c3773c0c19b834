// Every model by name: build one (createModel) or count one without building it (describeModel:
// parameters and forward FLOPs at an input size, for the `models` listing).
import type { Module } from '../nn/module.js';
import { alexnet, traceAlexnet } from './alexnet.js';
import type { ModelOptions } from './options.js';
import { resnet, traceResnet } from './resnet.js';
import { ShapeTracer } from './shape-tracer.js';
import { traceVgg, vgg } from './vgg.js';

export const modelNames = [
  'alexnet',
  'vgg11',
  'vgg11_bn',
  'vgg13',
  'vgg13_bn',
  'vgg16',
  'vgg16_bn',
  'vgg19',
  'vgg19_bn',
  'resnet18',
  'resnet34',
] as const;

export type ModelName = (typeof modelNames)[number];

interface Entry {
  readonly build: (opts: ModelOptions) => Module;
  readonly trace: (t: ShapeTracer, numClasses: number) => void;
  /** Smallest square input torchvision accepts. */
  readonly minInputSize: number;
  readonly summary: string;
}

function vggEntry(depth: 11 | 13 | 16 | 19, bn: boolean): Entry {
  return {
    build: (o) => vgg(depth, bn, o),
    trace: (t, k) => traceVgg(t, depth, bn, k),
    minInputSize: 32,
    summary: `VGG-${depth}${bn ? ' with batch norm' : ''} (Simonyan & Zisserman 2014)`,
  };
}

const MODELS: Readonly<Record<ModelName, Entry>> = {
  alexnet: {
    build: alexnet,
    trace: traceAlexnet,
    minInputSize: 63,
    summary: 'AlexNet (Krizhevsky et al. 2012, torchvision variant)',
  },
  vgg11: vggEntry(11, false),
  vgg11_bn: vggEntry(11, true),
  vgg13: vggEntry(13, false),
  vgg13_bn: vggEntry(13, true),
  vgg16: vggEntry(16, false),
  vgg16_bn: vggEntry(16, true),
  vgg19: vggEntry(19, false),
  vgg19_bn: vggEntry(19, true),
  resnet18: {
    build: (o) => resnet(18, o),
    trace: (t, k) => traceResnet(t, 18, k),
    minInputSize: 1,
    summary: 'ResNet-18 (He et al. 2015)',
  },
  resnet34: {
    build: (o) => resnet(34, o),
    trace: (t, k) => traceResnet(t, 34, k),
    minInputSize: 1,
    summary: 'ResNet-34 (He et al. 2015)',
  },
};

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

function entry(name: string): Entry {
  if (!isModelName(name)) throw new RangeError(`unknown model '${name}' (known: ${modelNames.join(', ')})`);
  return MODELS[name];
}

/** Builds a model with torchvision's structure and state names, initialised from `seed`. */
export function createModel(name: string, opts: ModelOptions = {}): Module {
  return entry(name).build(opts);
}

export interface ModelDescription {
  readonly name: ModelName;
  readonly summary: string;
  readonly numClasses: number;
  /** Square input side the counts are for. */
  readonly inputSize: number;
  readonly minInputSize: number;
  /** Trainable parameters (BatchNorm running stats not included, as torchvision counts). */
  readonly parameters: number;
  /** Multiply-accumulates of the conv and linear products, one image, forward. */
  readonly macs: number;
  /** 2·macs: the forward FLOPs of one image that go through LinearOps (BN, ReLU, pooling not counted). */
  readonly flops: number;
}

/** Counts without building (no weights allocated); E_SHAPE when the input is too small. */
export function describeModel(
  name: string,
  opts: { numClasses?: number; inputSize?: number } = {},
): ModelDescription {
  const e = entry(name);
  const numClasses = opts.numClasses ?? 1000;
  const inputSize = opts.inputSize ?? 224;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (!Number.isInteger(inputSize) || inputSize < 1) {
    throw new RangeError(`inputSize must be a positive integer, got ${inputSize}`);
  }
  const t = new ShapeTracer(3, inputSize, inputSize);
  e.trace(t, numClasses);
  return {
    name: name as ModelName,
    summary: e.summary,
    numClasses,
    inputSize,
    minInputSize: e.minInputSize,
    parameters: t.params,
    macs: t.macs,
    flops: 2 * t.macs,
  };
}
