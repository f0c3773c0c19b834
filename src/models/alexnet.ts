// torchvision.models.alexnet (0.14): features.{0,3,6,8,10} conv, avgpool AdaptiveAvgPool2d((6,6)),
// classifier = [Dropout, Linear(9216,4096), ReLU, Dropout, Linear(4096,4096), ReLU, Linear(4096,K)].
// Inputs from 63×63 up (224×224 as in the paper). PyTorch's default init, seeded.
import { AdaptiveAvgPool2d } from '../nn/adaptive-avg-pool.js';
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

type FeatureSpec =
  | { readonly conv: readonly [o: number, k: number, stride: number, padding: number] }
  | { readonly pool: readonly [k: number, stride: number] }
  | 'relu';

const FEATURES: readonly FeatureSpec[] = [
  { conv: [64, 11, 4, 2] },
  'relu',
  { pool: [3, 2] },
  { conv: [192, 5, 1, 2] },
  'relu',
  { pool: [3, 2] },
  { conv: [384, 3, 1, 1] },
  'relu',
  { conv: [256, 3, 1, 1] },
  'relu',
  { conv: [256, 3, 1, 1] },
  'relu',
  { pool: [3, 2] },
];

export function alexnet(opts: ModelOptions = {}): ClassifierNet {
  const o = resolveModelOptions(opts);
  const b = { ...o.backend, skipInit: true };
  const layers: Module[] = [];
  let c = 3;
  for (const s of FEATURES) {
    if (s === 'relu') layers.push(new ReLU({ ...b, inplace: true }));
    else if ('conv' in s) {
      const [out, k, stride, padding] = s.conv;
      layers.push(new Conv2d(c, out, k, { ...b, stride, padding, inputGrad: layers.length > 0 }));
      c = out;
    } else layers.push(new MaxPool2d(s.pool[0], { ...b, stride: s.pool[1] }));
  }
  const classifier = new Sequential(
    new Dropout(o.dropout, { ...b, rng: dropoutRng(o.seed, 0) }),
    new Linear(256 * 6 * 6, 4096, b),
    new ReLU({ ...b, inplace: true }),
    new Dropout(o.dropout, { ...b, rng: dropoutRng(o.seed, 1) }),
    new Linear(4096, 4096, b),
    new ReLU({ ...b, inplace: true }),
    new Linear(4096, o.numClasses, b),
  );
  const net = new ClassifierNet(new Sequential(...layers), new AdaptiveAvgPool2d([6, 6], b), classifier);
  initModel(net, { conv: 'default', linear: 'default' }, o.seed);
  return net;
}

export function traceAlexnet(t: ShapeTracer, numClasses: number): void {
  for (const s of FEATURES) {
    if (s === 'relu') t.relu();
    else if ('conv' in s) t.conv(s.conv[0], s.conv[1], s.conv[2], s.conv[3], true);
    else t.maxPool(s.pool[0], s.pool[1], 0);
  }
  t.adaptiveAvgPool(6, 6);
  t.flatten();
  t.linear(4096, true);
  t.relu();
  t.linear(4096, true);
  t.relu();
  t.linear(numClasses, true);
}
