// torchvision's ResNet BasicBlock: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), identity =
// downsample(x) (Sequential(conv1x1 stride s, bn)) when the shape changes, else x. Child names and
// order follow torchvision: conv1, bn1, relu, conv2, bn2, downsample. torchvision calls its one ReLU
// twice; here the `relu` child does the first and the block itself does the second (same kernels),
// so each keeps its own sign tensor for backward.
import { shapeStr, type Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import { BatchNorm2d } from './batch-norm.js';
import { expectGradShape, positiveInt, savedOrThrow, shapeError } from './checks.js';
import { Conv2d } from './conv2d.js';
import type { InitOptions } from './init.js';
import { Layer } from './layer.js';
import { ReLU } from './relu.js';
import { Sequential } from './sequential.js';

export interface BasicBlockOptions extends BackendOptions, InitOptions {
  readonly stride?: number;
}

export class BasicBlock extends Layer {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly stride: number;
  private saved: { y: Tensor } | null = null;

  constructor(inplanes: number, planes: number, opts: BasicBlockOptions = {}) {
    super(opts);
    const { stride: s = 1, ...shared } = opts;
    const stride = positiveInt('BasicBlock stride', s);
    this.stride = stride;
    const conv = { ...shared, bias: false };
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(inplanes, planes, 3, { ...conv, stride, padding: 1 }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes, shared));
    this.relu = this.registerModule('relu', new ReLU({ ...shared, inplace: true }));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { ...conv, padding: 1 }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes, shared));
    this.downsample =
      stride !== 1 || inplanes !== planes
        ? this.registerModule(
            'downsample',
            new Sequential(
              new Conv2d(inplanes, planes, 1, { ...conv, stride }),
              new BatchNorm2d(planes, shared),
            ),
          )
        : null;
  }

  // x [N,inplanes,H,W] → y [N,planes,H',W'], H' = floor((H−1)/stride)+1
  async forward(x: Tensor): Promise<Tensor> {
    this.saved = null;
    let out = await this.conv1.forward(x);
    out = await this.bn1.forward(out);
    out = await this.relu.forward(out);
    out = await this.conv2.forward(out);
    out = await this.bn2.forward(out);
    const identity = this.downsample === null ? x : await this.downsample.forward(x);
    if (identity.size !== out.size) {
      throw shapeError(
        `BasicBlock: identity ${shapeStr(identity.shape)} does not match residual ${shapeStr(out.shape)}`,
      );
    }
    this.kernels.axpy(1, identity.data, out.data); // out is bn2's fresh output: safe to overwrite
    this.kernels.reluForward(out.data, out.data);
    this.saved = { y: out };
    return out;
  }

  // dy [N,planes,H',W'] → dx [N,inplanes,H,W]
  async backward(dy: Tensor): Promise<Tensor> {
    const { y } = savedOrThrow('BasicBlock', this.saved);
    expectGradShape('BasicBlock', dy, y.shape);
    this.saved = null;
    const d = this.output('d', dy.shape);
    this.kernels.reluBackward(dy.data, y.data, d.data);
    const dIdentity = this.downsample === null ? d : await this.downsample.backward(d);
    let dm = await this.bn2.backward(d);
    dm = await this.conv2.backward(dm);
    dm = await this.relu.backward(dm);
    dm = await this.bn1.backward(dm);
    const dx = await this.conv1.backward(dm);
    this.kernels.axpy(1, dIdentity.data, dx.data);
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
