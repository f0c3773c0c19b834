// Test helpers shared by the RemoteLinearOps tests: a product case's operands, and calling its op on any
// LinearOps in LinearRequest's operand order (optionally offering an output buffer).
import { callLinearOp, type LinearOps } from '../../src/kernels/linear-ops.js';
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
  return callLinearOp(ops, cs.op, a, b, cs.params, out);
}
