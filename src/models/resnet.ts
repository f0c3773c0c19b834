// torchvision.models.resnet18/34 (0.14): conv1 7×7/2, bn1, relu, maxpool 3×3/2, layer1..4 of BasicBlock
// (64, 128, 256, 512 planes; stride 2 from layer2 on, with downsample = [conv1x1, bn]), avgpool (1,1),
// fc. Any input size. torchvision's init scheme (zero_init_residual off).
import { AdaptiveAvgPool2d } from '../nn/adaptive-avg-pool.js';
import type { BackendOptions } from '../nn/backend.js';
import { BasicBlock } from '../nn/basic-block.js';
import { BatchNorm2d } from '../nn/batch-norm.js';
import { Conv2d } from '../nn/conv2d.js';
import { Flatten } from '../nn/flatten.js';
import { Linear } from '../nn/linear.js';
import { MaxPool2d } from '../nn/max-pool.js';
import { Module } from '../nn/module.js';
import { ReLU } from '../nn/relu.js';
import { Sequential } from '../nn/sequential.js';
import type { Tensor } from '../tensor/tensor.js';
import { initModel, type ModelOptions, resolveModelOptions } from './options.js';
import type { ShapeTracer } from './shape-tracer.js';

export type ResnetDepth = 18 | 34;

export const RESNET_LAYERS: Readonly<Record<ResnetDepth, readonly [number, number, number, number]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
};

const PLANES = [64, 128, 256, 512] as const;

export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly maxpool: MaxPool2d;
  readonly layers: readonly Sequential[];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  // torch.flatten in torchvision's forward: not a child, so not in the state names.
  private readonly flatten = new Flatten();

  constructor(blocks: readonly number[], numClasses: number, b: BackendOptions & { skipInit: boolean }) {
    super();
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(3, 64, 7, { ...b, stride: 2, padding: 3, bias: false, inputGrad: false }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64, b));
    this.relu = this.registerModule('relu', new ReLU({ ...b, inplace: true }));
    this.maxpool = this.registerModule('maxpool', new MaxPool2d(3, { ...b, stride: 2, padding: 1 }));
    let inplanes = 64;
    this.layers = PLANES.map((planes, i) => {
      const seq: BasicBlock[] = [];
      for (let j = 0; j < blocks[i]!; j++) {
        const stride = j === 0 && i > 0 ? 2 : 1;
        seq.push(new BasicBlock(inplanes, planes, { ...b, stride }));
        inplanes = planes;
      }
      return this.registerModule(`layer${i + 1}`, new Sequential(...seq));
    });
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1], b));
    this.fc = this.registerModule('fc', new Linear(512, numClasses, b));
  }

  // x [N,3,H,W] → logits [N,K]
  async forward(x: Tensor): Promise<Tensor> {
    let y = await this.conv1.forward(x);
    y = await this.bn1.forward(y);
    y = await this.relu.forward(y);
    y = await this.maxpool.forward(y);
    for (const l of this.layers) y = await l.forward(y);
    y = await this.avgpool.forward(y);
    y = await this.flatten.forward(y);
    return this.fc.forward(y);
  }

  // dlogits [N,K] → dx [N,3,H,W]
  async backward(dy: Tensor): Promise<Tensor> {
    let d = await this.fc.backward(dy);
    d = await this.flatten.backward(d);
    d = await this.avgpool.backward(d);
    for (let i = this.layers.length - 1; i >= 0; i--) d = await this.layers[i]!.backward(d);
    d = await this.maxpool.backward(d);
    d = await this.relu.backward(d);
    d = await this.bn1.backward(d);
    return this.conv1.backward(d);
  }
}

export function resnet(depth: ResnetDepth, opts: ModelOptions = {}): ResNet {
  const o = resolveModelOptions(opts);
  const net = new ResNet(RESNET_LAYERS[depth], o.numClasses, { ...o.backend, skipInit: true });
  initModel(net, { conv: 'kaiming-fan-out', linear: 'default' }, o.seed);
  return net;
}

export function traceResnet(t: ShapeTracer, depth: ResnetDepth, numClasses: number): void {
  t.conv(64, 7, 2, 3, false);
  t.batchNorm();
  t.relu();
  t.maxPool(3, 2, 1);
  let inplanes = 64;
  PLANES.forEach((planes, i) => {
    for (let j = 0; j < RESNET_LAYERS[depth][i]!; j++) {
      const stride = j === 0 && i > 0 ? 2 : 1;
      const input = [...t.shape];
      t.conv(planes, 3, stride, 1, false);
      t.batchNorm();
      t.relu();
      t.conv(planes, 3, 1, 1, false);
      t.batchNorm();
      if (stride !== 1 || inplanes !== planes) {
        const main = t.shape;
        t.shape = input;
        t.conv(planes, 1, stride, 0, false);
        t.batchNorm();
        t.shape = main;
      }
      t.residual();
      inplanes = planes;
    }
  });
  t.adaptiveAvgPool(1, 1);
  t.flatten();
  t.linear(numClasses, true);
}
