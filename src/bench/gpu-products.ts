// Benchmark (not a test): the accelerator's linear products on its GPU backend against its CPU backend,
// over the products of one training step of a model. Records the shapes of every product of one SGD step
// (natively), then computes each as the accelerator would — float32 (arith f32) and exact (arith wide,
// operands at the largest bound that keeps every sum below 2^47) — on the CPU kernels (computeLinear, the
// accelerator's --threads) and on the GPU (computeLinearGpu), and reports per op type the medians of
// `--reps` runs, the speed-up, and whether every exact result is bit-identical to the CPU's (float32: the
// largest difference relative to the product's scale).
// Run: node dist/src/bench/gpu-products.js [model ...] [--batch B] [--size S] [--reps R] [--threads T]
//        [--backend cuda|emulated] [--cuda-libs DIR[:DIR]] [--arith f32,wide]
//        [--staging both (A/B: each GPU product with and without page-locked staging of its copies) | off]
import { computeLinear } from '../accelerator/compute.js';
import { computeLinearGpu, type GpuKind, openGpu } from '../accelerator/gpu-linear.js';
import { kernels } from '../kernels/index.js';
import type { ConvParams, LinearOps } from '../kernels/linear-ops.js';
import { LocalLinearOps } from '../kernels/local-linear-ops.js';
import { createModel } from '../models/index.js';
import { CrossEntropyLoss } from '../nn/cross-entropy.js';
import { setLinearOps } from '../nn/layer.js';
import { SGD } from '../nn/sgd.js';
import { trainStep } from '../nn/train-step.js';
import { HALF_P } from '../protocol/linear-codec.js';
import type { Arith, LinearOpName, LinearRequest, WireTensor } from '../protocol/linear-request.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { Tensor } from '../tensor/tensor.js';
import { flagReader } from './script-flags.js';

interface Shape {
  readonly op: LinearOpName;
  readonly a: readonly number[];
  readonly b: readonly number[];
  readonly stride?: number;
  readonly padding?: number;
  readonly inputHW?: readonly [number, number];
  readonly k?: number;
}

/** LocalLinearOps that writes down the shapes of every product. */
function recordingOps(log: Shape[]): LinearOps {
  const l = new LocalLinearOps(kernels);
  const c = (p: ConvParams) => ({ stride: p.stride, padding: p.padding });
  const rec = <T>(s: Shape, run: () => T): T => {
    log.push(s);
    return run();
  };
  return {
    name: 'local (recording)',
    writesOut: l.writesOut,
    dense: (x, w, out) => rec({ op: 'dense', a: x.shape, b: w.shape }, () => l.dense(x, w, out)),
    denseGradInput: (dy, w, out) =>
      rec({ op: 'denseGradInput', a: dy.shape, b: w.shape }, () => l.denseGradInput(dy, w, out)),
    denseGradWeight: (dy, x, out) =>
      rec({ op: 'denseGradWeight', a: dy.shape, b: x.shape }, () => l.denseGradWeight(dy, x, out)),
    conv2d: (x, w, p, out) =>
      rec({ op: 'conv2d', a: x.shape, b: w.shape, ...c(p) }, () => l.conv2d(x, w, p, out)),
    conv2dGradInput: (dy, w, p, hw, out) =>
      rec({ op: 'conv2dGradInput', a: dy.shape, b: w.shape, ...c(p), inputHW: hw }, () =>
        l.conv2dGradInput(dy, w, p, hw, out),
      ),
    conv2dGradWeight: (dy, x, p, k, out) =>
      rec({ op: 'conv2dGradWeight', a: dy.shape, b: x.shape, ...c(p), k }, () =>
        l.conv2dGradWeight(dy, x, p, k, out),
      ),
  };
}

async function stepShapes(model: string, batch: number, size: number): Promise<Shape[]> {
  const net = createModel(model, { numClasses: 10, seed: 1, dropout: 0 });
  const log: Shape[] = [];
  setLinearOps(net, recordingOps(log));
  const opt = new SGD(net.parameters(), { lr: 0.01 });
  const x = new Tensor([batch, 3, size, size]);
  const rng = new SeededRng(3);
  for (let i = 0; i < x.size; i++) x.data[i] = rng.nextFloat() * 2 - 1;
  await trainStep(
    net,
    new CrossEntropyLoss(),
    opt,
    x,
    Array.from({ length: batch }, (_, i) => i % 10),
  );
  return log;
}

/** Terms in one output's sum (the inner dimension; col2im's overlaps for conv grad-input). */
function innerTerms(s: Shape): number {
  switch (s.op) {
    case 'dense':
      return s.a[1]!;
    case 'denseGradInput':
      return s.a[1]!;
    case 'denseGradWeight':
      return s.a[0]!;
    case 'conv2d':
      return s.b[1]! * s.b[2]! * s.b[3]!;
    case 'conv2dGradInput':
      return s.b[0]! * s.b[2]! * s.b[3]!;
    case 'conv2dGradWeight':
      return s.a[0]! * s.a[2]! * s.a[3]!;
  }
}

function tensor(rng: SeededRng, shape: readonly number[], arith: Arith, bound: number): WireTensor {
  const n = shape.reduce((p, d) => p * d, 1);
  if (arith === 'f32') {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = rng.nextFloat() * 2 - 1;
    return { shape, data: d };
  }
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.nextInt(2 * bound + 1) - bound;
  return { shape, data: d };
}

function request(rng: SeededRng, s: Shape, arith: Arith): LinearRequest {
  // Wide: Σ|a·b| ≤ inner · bound² ≤ 2^47, and operands centered mod p.
  const bound = Math.min(HALF_P, Math.max(1, Math.floor(Math.sqrt(2 ** 47 / innerTerms(s)))));
  const { a, b, op, ...rest } = s;
  return { op, arith, a: tensor(rng, a, arith, bound), b: tensor(rng, b, arith, bound), ...rest };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeIt(
  reps: number,
  f: () => Promise<WireTensor> | WireTensor,
): Promise<[number, WireTensor]> {
  const times: number[] = [];
  let last: WireTensor | undefined;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    last = await f();
    times.push(performance.now() - t0);
  }
  return [median(times), last!];
}

/** Exact: elements that differ; float32: the largest |gpu − cpu| over the largest |cpu|. */
function compare(arith: Arith, g: WireTensor, c: WireTensor): number {
  const gd = g.data;
  const cd = c.data;
  if (arith !== 'f32') {
    let diff = 0;
    for (let i = 0; i < gd.length; i++) if (gd[i] !== cd[i]) diff++;
    return diff;
  }
  let d = 0;
  let m = 0;
  for (let i = 0; i < gd.length; i++) {
    d = Math.max(d, Math.abs(gd[i]! - cd[i]!));
    m = Math.max(m, Math.abs(cd[i]!));
  }
  return m > 0 ? d / m : d;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = flagReader(args);
  const batch = Number(flag('batch', '1'));
  const size = Number(flag('size', '224'));
  const reps = Number(flag('reps', '3'));
  const threads = Number(flag('threads', String(kernels.info().maxThreads)));
  const kind = flag('backend', 'cuda') as GpuKind;
  const libs = flag('cuda-libs', process.env.TEE_OFFLOAD_CUDA_LIBS ?? '');
  const ariths = flag('arith', 'f32,wide').split(',') as Arith[];
  const staging = flag('staging', 'on');
  if (staging !== 'on' && staging !== 'off' && staging !== 'both')
    throw new Error('--staging must be on, off or both');
  const models = args.length > 0 ? args : ['vgg19_bn', 'resnet18', 'alexnet'];
  kernels.setThreads(threads);
  const libOpts = libs ? { libDirs: libs.split(':').filter((d) => d !== '') } : {};
  const info = openGpu(kind, { ...libOpts, staging: staging !== 'off' });
  console.log(
    `GPU backend: ${info.name} (${info.kind}, sm ${info.computeCapability}, ${(info.memoryBytes / 2 ** 30).toFixed(0)} GiB); ` +
      `CPU backend: ${threads} threads; ${reps} runs each, medians`,
  );
  for (const model of models) {
    const shapes = await stepShapes(model, batch, size);
    for (const arith of ariths) {
      const rng = new SeededRng(11);
      const byOp = new Map<
        string,
        { n: number; cpu: number; gpu: number; pageable: number; worst: number }
      >();
      for (const s of shapes) {
        const req = request(rng, s, arith);
        computeLinearGpu(req); // warm-up: the device's allocations, cuBLAS's kernel choice
        const [cpuMs, c] = await timeIt(reps, () => computeLinear(kernels, req));
        const [gpuMs, g] = await timeIt(reps, () => computeLinearGpu(req));
        let pageableMs = 0;
        if (staging === 'both') {
          openGpu(kind, { ...libOpts, staging: false });
          computeLinearGpu(req);
          const [ms, p] = await timeIt(reps, () => computeLinearGpu(req));
          pageableMs = ms;
          if (compare(arith, p, g) !== 0)
            throw new Error(`${s.op}: the unstaged result differs from the staged one`);
          openGpu(kind, { ...libOpts, staging: true });
          computeLinearGpu(req);
        }
        const row = byOp.get(s.op) ?? { n: 0, cpu: 0, gpu: 0, pageable: 0, worst: 0 };
        row.n++;
        row.cpu += cpuMs;
        row.gpu += gpuMs;
        row.pageable += pageableMs;
        row.worst =
          arith === 'f32' ? Math.max(row.worst, compare(arith, g, c)) : row.worst + compare(arith, g, c);
        byOp.set(s.op, row);
      }
      let cpu = 0;
      let gpu = 0;
      let pageable = 0;
      let bad = 0;
      for (const [op, r] of byOp) {
        cpu += r.cpu;
        gpu += r.gpu;
        pageable += r.pageable;
        if (arith !== 'f32') bad += r.worst;
        const agree =
          arith === 'f32'
            ? `largest difference ${r.worst.toExponential(1)} of scale`
            : `${r.worst} elements differ`;
        console.log(
          `  ${model} ${size}² b${batch} ${arith} ${op}: ${r.n} products, CPU ${r.cpu.toFixed(1)} ms, GPU ${r.gpu.toFixed(1)} ms ` +
            `(${(r.cpu / r.gpu).toFixed(1)}×${staging === 'both' ? `; unstaged copies ${r.pageable.toFixed(1)} ms` : ''}); ${agree}`,
        );
      }
      console.log(
        `${model} ${size}² b${batch} ${arith}: one step's ${shapes.length} products: CPU ${cpu.toFixed(0)} ms, GPU ${gpu.toFixed(0)} ms ` +
          `(${(cpu / gpu).toFixed(1)}×, copies to and from the device included${staging === 'both' ? `; ${pageable.toFixed(0)} ms with unstaged copies` : staging === 'off' ? ', unstaged' : ''})` +
          (arith === 'f32'
            ? ''
            : `; ${bad === 0 ? 'every result bit-identical to the CPU' : `${bad} elements DIFFER`}`),
      );
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
