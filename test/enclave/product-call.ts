// Test helpers shared by the RemoteLinearOps tests: a product case's operands, and calling its op on any
// LinearOps in LinearRequest's operand order (optionally offering an output buffer).
import type { LinearOps } from '../../src/kernels/linear-ops.js';
import type { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { numelOf, type ProductCase, randomFloats } from '../verify/cases.js';

export function operands(cs: ProductCase, rng: SeededRng): [Tensor, Tensor] {
  return [
    new Tensor(cs.aShape, randomFloats(numelOf(cs.aShape), rng, 2)),
    new Tensor(cs.bShape, randomFloats(numelOf(cs.bShape), rng, 0.5)),
  ];
}

export function call(ops: LinearOps, cs: ProductCase, a: Tensor, b: Tensor, out?: Tensor): Promise<Tensor> {
  const p = { stride: cs.params.stride ?? 1, padding: cs.params.padding ?? 0 };
  switch (cs.op) {
    case 'dense':
      return ops.dense(a, b, out);
    case 'denseGradInput':
      return ops.denseGradInput(a, b, out);
    case 'denseGradWeight':
      return ops.denseGradWeight(a, b, out);
    case 'conv2d':
      return ops.conv2d(a, b, p, out);
    case 'conv2dGradInput':
      return ops.conv2dGradInput(a, b, p, cs.params.inputHW!, out);
    case 'conv2dGradWeight':
      return ops.conv2dGradWeight(a, b, p, cs.params.k!, out);
  }
}
