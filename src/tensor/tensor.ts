// A dense, row-major float32 tensor: a shape and a Float32Array that owns exactly its elements.
// Layers and kernels work on the typed array directly (zero-copy into the native addon).
import { TeeError } from '../errors.js';

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export class Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;

  constructor(shape: Shape, data?: Float32Array) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor shape ${shapeStr(shape)}`);
    }
    const n = numel(shape);
    if (data !== undefined && data.length !== n) {
      throw new TeeError(
        'E_SHAPE',
        `tensor data has ${data.length} elements, shape ${shapeStr(shape)} needs ${n}`,
      );
    }
    this.shape = Object.freeze([...shape]);
    this.data = data ?? new Float32Array(n);
  }

  static zeros(shape: Shape): Tensor {
    return new Tensor(shape);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same data, new shape (no copy). */
  reshape(shape: Shape): Tensor {
    return new Tensor(shape, this.data);
  }

  clone(): Tensor {
    return new Tensor(this.shape, this.data.slice());
  }
}

/** Throws E_SHAPE unless `t` has rank `rank`; `what` names the argument in the message. */
export function expectRank(t: Tensor, rank: number, what: string): void {
  if (t.rank !== rank) {
    throw new TeeError('E_SHAPE', `${what}: expected a rank-${rank} tensor, got ${shapeStr(t.shape)}`);
  }
}
