// The workloads of `bench kernels`: GEMMs, the three convolution passes on three layer shapes, and full
// training steps. A spec is plain data: the TypeScript side and bench/torch_kernels.py read the same one.
import { convOutSize } from '../kernels/api.js';

export type Group = 'gemm' | 'conv' | 'train' | 'memory';
export const GROUPS: readonly Group[] = ['gemm', 'conv', 'train', 'memory'];

export interface GemmSpec {
  readonly kind: 'gemm';
  readonly dtype: 'f32' | 'f64';
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

export type ConvPass = 'forward' | 'input' | 'weight';

export interface ConvSpec {
  readonly kind: 'conv';
  readonly pass: ConvPass;
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
}

export interface TrainSpec {
  readonly kind: 'train';
  readonly model: string;
  readonly batch: number;
  readonly size: number;
  readonly numClasses: number;
}

export type Spec = GemmSpec | ConvSpec | TrainSpec;

export interface Workload {
  readonly id: string;
  readonly group: Exclude<Group, 'memory'>;
  readonly label: string;
  readonly spec: Spec;
  /** Floating-point operations per call (GEMM, conv), for GFLOP/s; absent for training steps. */
  readonly flops?: number;
}

function gemm(dtype: 'f32' | 'f64', m: number, n: number, k: number): Workload {
  const name = `${dtype === 'f32' ? 's' : 'd'}gemm`;
  const size = m === n && n === k ? `${m}³` : `${m}×${n}×${k}`;
  return {
    id: `${name}-${m}x${n}x${k}`,
    group: 'gemm',
    label: `${name} ${size}`,
    spec: { kind: 'gemm', dtype, m, n, k },
    flops: 2 * m * n * k,
  };
}

const PASS_LABEL: Record<ConvPass, string> = { forward: 'fwd', input: 'bwd-input', weight: 'bwd-weight' };

function conv(
  pass: ConvPass,
  n: number,
  c: number,
  h: number,
  o: number,
  k: number,
  stride: number,
  padding: number,
): Workload {
  const oh = convOutSize(h, k, stride, padding);
  const s = stride === 1 ? '' : ` s${stride}`;
  return {
    id: `conv-n${n}c${c}h${h}o${o}k${k}s${stride}p${padding}-${pass}`,
    group: 'conv',
    label: `conv N${n} ${c}→${o} ${k}×${k}${s} ${h}² ${PASS_LABEL[pass]}`,
    spec: { kind: 'conv', pass, n, c, h, w: h, o, k, stride, padding },
    flops: 2 * n * o * oh * oh * c * k * k,
  };
}

function train(model: string, batch: number): Workload {
  return {
    id: `train-${model}-b${batch}`,
    group: 'train',
    label: `train ${model} 224² b${batch}`,
    spec: { kind: 'train', model, batch, size: 224, numClasses: 10 },
  };
}

const CONV_SHAPES: readonly [number, number, number, number, number, number, number][] = [
  [4, 64, 32, 64, 3, 1, 1],
  [4, 256, 8, 256, 3, 1, 1],
  [1, 3, 224, 64, 11, 4, 2],
];

export const WORKLOADS: readonly Workload[] = [
  gemm('f32', 1024, 1024, 1024),
  gemm('f32', 2304, 1024, 1024),
  gemm('f64', 1024, 1024, 1024),
  ...CONV_SHAPES.flatMap(([n, c, h, o, k, s, p]) =>
    (['forward', 'input', 'weight'] as const).map((pass) => conv(pass, n, c, h, o, k, s, p)),
  ),
  ...['resnet18', 'vgg19_bn', 'alexnet'].flatMap((m) => [train(m, 1), train(m, 4)]),
];
