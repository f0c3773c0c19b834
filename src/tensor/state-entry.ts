// One entry of a model's state, as a torchvision state_dict holds it: a name, a shape, a dtype and the
// live storage (loading writes into it). Lives here, below nn/ and io/, so that both can speak of it.
import type { Shape } from './tensor.js';

export interface StateEntry {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: 'F32' | 'I64';
  readonly data: Float32Array | BigInt64Array;
  readonly kind: 'parameter' | 'buffer';
}
