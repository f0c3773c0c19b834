// Shape checks shared by the layers; every failure is TeeError('E_SHAPE') with an exact message.
import { TeeError } from '../errors.js';
import { type Shape, shapeStr, type Tensor } from '../tensor/tensor.js';

export function shapeError(message: string): TeeError {
  return new TeeError('E_SHAPE', message);
}

/** x must be [N,C,H,W] (with C = channels when given). */
export function expectNCHW(layer: string, x: Tensor, channels?: number): void {
  if (x.rank !== 4 || (channels !== undefined && x.shape[1] !== channels)) {
    const c = channels === undefined ? 'C' : String(channels);
    throw shapeError(`${layer}: expected input [N,${c},H,W], got ${shapeStr(x.shape)}`);
  }
}

/** The saved state of a forward, or E_SHAPE when backward comes first. */
export function savedOrThrow<T>(layer: string, saved: T | null): T {
  if (saved === null) throw shapeError(`${layer}: backward called before forward`);
  return saved;
}

/** dy must have the shape forward produced. */
export function expectGradShape(layer: string, dy: Tensor, outShape: Shape): void {
  if (!sameShape(dy.shape, outShape)) {
    throw shapeError(
      `${layer}: grad_output ${shapeStr(dy.shape)} does not match output ${shapeStr(outShape)}`,
    );
  }
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A linear op's result must have the shape asked for (a remote backend is not trusted to). */
export function expectResultShape(layer: string, op: string, got: Tensor, want: Shape): void {
  if (!sameShape(got.shape, want)) {
    throw shapeError(`${layer}: ${op} returned ${shapeStr(got.shape)}, expected ${shapeStr(want)}`);
  }
}

export function positiveInt(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  return v;
}

export function nonNegativeInt(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer, got ${v}`);
  return v;
}
