import { after, test } from 'node:test';
import type { ChannelGeom } from '../../src/kernels/api.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { assertClose, randomF32, SeededRng } from './helpers.js';

const info = nativeKernels.info();
after(() => nativeKernels.setThreads(info.maxThreads));

const GEOMS: ChannelGeom[] = [
  { n: 1, c: 1, hw: 1 },
  { n: 2, c: 3, hw: 5 },
  { n: 1, c: 7, hw: 49 },
  { n: 5, c: 2, hw: 13 },
  { n: 8, c: 64, hw: 256 }, // several threads
];

for (const threads of [1, 2]) {
  for (const affine of [true, false]) {
    test(`batchNorm2d train, eval and backward match the reference (affine=${affine}, ${threads} thread(s))`, () => {
      nativeKernels.setThreads(threads);
      const rng = new SeededRng(21);
      for (const g of GEOMS) {
        const label = `${JSON.stringify(g)} affine=${affine}`;
        const total = g.n * g.c * g.hw;
        // A large offset against a small spread: accurate statistics need double accumulation.
        const x = randomF32(rng, total).map((v) => 100 + 0.1 * v);
        const weight = affine ? randomF32(rng, g.c).map((v) => v + 1.5) : null;
        const bias = affine ? randomF32(rng, g.c) : null;
        const eps = 1e-5;
        const out = () => ({
          y: new Float32Array(total),
          mean: new Float32Array(g.c),
          variance: new Float32Array(g.c),
          invstd: new Float32Array(g.c),
        });
        const [a, e] = [out(), out()];
        nativeKernels.batchNorm2dForwardTrain(g, x, weight, bias, eps, a.y, a.mean, a.variance, a.invstd);
        referenceKernels.batchNorm2dForwardTrain(g, x, weight, bias, eps, e.y, e.mean, e.variance, e.invstd);
        assertClose(a.mean, e.mean, 1e-7, `mean ${label}`);
        assertClose(a.variance, e.variance, 1e-6, `variance ${label}`);
        assertClose(a.invstd, e.invstd, 1e-6, `invstd ${label}`);
        assertClose(a.y, e.y, 1e-6, `y ${label}`);

        const [ya, ye] = [new Float32Array(total), new Float32Array(total)];
        nativeKernels.batchNorm2dForwardEval(g, x, weight, bias, e.mean, e.variance, eps, ya);
        referenceKernels.batchNorm2dForwardEval(g, x, weight, bias, e.mean, e.variance, eps, ye);
        assertClose(ya, ye, 1e-6, `eval y ${label}`);

        const dy = randomF32(rng, total);
        const grads = () => ({
          dx: new Float32Array(total).fill(Number.NaN),
          dw: affine ? new Float32Array(g.c) : null,
          db: affine ? new Float32Array(g.c) : null,
        });
        const [ga, ge] = [grads(), grads()];
        nativeKernels.batchNorm2dBackward(g, dy, x, weight, e.mean, e.invstd, ga.dx, ga.dw, ga.db);
        referenceKernels.batchNorm2dBackward(g, dy, x, weight, e.mean, e.invstd, ge.dx, ge.dw, ge.db);
        assertClose(ga.dx, ge.dx, 1e-6, `dx ${label}`);
        if (affine) {
          assertClose(ga.dw!, ge.dw!, 1e-5, `dweight ${label}`);
          assertClose(ga.db!, ge.db!, 1e-6, `dbias ${label}`);
        }
      }
    });
  }
}
