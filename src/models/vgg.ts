// torchvision.models.vgg11/13/16/19 and their _bn variants (0.14): features = [conv3x3, (bn), relu]… with
// 'M' = MaxPool2d(2,2), avgpool AdaptiveAvgPool2d((7,7)), classifier = [Linear(25088,4096), ReLU, Dropout,
// Linear(4096,4096), ReLU, Dropout, Linear(4096,K)]. Inputs from 32×32 up. torchvision's init scheme.
import { AdaptiveAvgPool2d } from '../nn/adaptive-avg-pool.js';
import { BatchNorm2d } from '../nn/batch-norm.js';
import { Conv2d } from '../nn/conv2d.js';
import { Dropout } from '../nn/dropout.js';
import { Linear } from '../nn/linear.js';
import { MaxPool2d } from '../nn/max-pool.js';
import type { Module } from '../nn/module.js';
import { ReLU } from '../nn/relu.js';
import { Sequential } from '../nn/sequential.js';
import { ClassifierNet } from './classifier-net.js';
import { dropoutRng, initModel, type ModelOptions, resolveModelOptions } from './options.js';
import type { ShapeTracer } from './shape-tracer.js';

export type VggDepth = 11 | 13 | 16 | 19;

// torchvision's cfgs A, B, D, E: channel counts, 'M' for a 2×2 max-pool.
export const VGG_CFGS: Readonly<Record<VggDepth, readonly (number | 'M')[]>> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

export function vgg(depth: VggDepth, batchNorm: boolean, opts: ModelOptions = {}): ClassifierNet {
  const o = resolveModelOptions(opts);
  const b = { ...o.backend, skipInit: true };
  const layers: Module[] = [];
  let c = 3;
  for (const v of VGG_CFGS[depth]) {
    if (v === 'M') {
      layers.push(new MaxPool2d(2, { ...b, stride: 2 }));
      continue;
    }
    layers.push(new Conv2d(c, v, 3, { ...b, padding: 1, inputGrad: layers.length > 0 }));
    if (batchNorm) layers.push(new BatchNorm2d(v, b));
    layers.push(new ReLU({ ...b, inplace: true }));
    c = v;
  }
  const classifier = new Sequential(
    new Linear(512 * 7 * 7, 4096, b),
    new ReLU({ ...b, inplace: true }),
    new Dropout(o.dropout, { ...b, rng: dropoutRng(o.seed, 0) }),
    new Linear(4096, 4096, b),
    new ReLU({ ...b, inplace: true }),
    new Dropout(o.dropout, { ...b, rng: dropoutRng(o.seed, 1) }),
    new Linear(4096, o.numClasses, b),
  );
  const net = new ClassifierNet(new Sequential(...layers), new AdaptiveAvgPool2d([7, 7], b), classifier);
  initModel(net, { conv: 'kaiming-fan-out', linear: 'normal-0.01' }, o.seed);
  return net;
}

export function traceVgg(t: ShapeTracer, depth: VggDepth, batchNorm: boolean, numClasses: number): void {
  for (const v of VGG_CFGS[depth]) {
    if (v === 'M') t.maxPool(2, 2, 0);
    else {
      t.conv(v, 3, 1, 1, true);
      if (batchNorm) t.batchNorm();
      t.relu();
    }
  }
  t.adaptiveAvgPool(7, 7);
  t.flatten();
  t.linear(4096, true);
  t.relu();
  t.linear(4096, true);
  t.relu();
  t.linear(numClasses, true);
}
