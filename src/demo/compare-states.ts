// Two model states (safetensors tensors by name) compared tensor by tensor: bit identity, and the
// largest |a − b| of the float tensors with the reference's largest |value| beside it.
import { TeeError } from '../errors.js';
import type { SafeTensor } from '../io/safe-tensor.js';

export interface StateComparison {
  readonly tensors: number;
  /** Tensors whose bytes are identical. */
  readonly identical: number;
  /** Over the float tensors. */
  readonly maxAbsDiff: number;
  /** The tensor where maxAbsDiff is reached ('' when every tensor is identical). */
  readonly worst: string;
  /** max |reference| of that tensor. */
  readonly worstRefMax: number;
  /** The largest maxAbsDiff / max|reference| over the float tensors. */
  readonly maxRelDiff: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function floats(t: SafeTensor): Float32Array | Float64Array | null {
  const copy = t.data.slice();
  if (t.dtype === 'F32') return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  if (t.dtype === 'F64') return new Float64Array(copy.buffer, 0, copy.byteLength / 8);
  return null;
}

/** E_STATE when the two states do not hold the same names, dtypes and shapes. */
export function compareStates(
  reference: ReadonlyMap<string, SafeTensor>,
  other: ReadonlyMap<string, SafeTensor>,
): StateComparison {
  const missing = [...reference.keys()].filter((k) => !other.has(k));
  const extra = [...other.keys()].filter((k) => !reference.has(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new TeeError(
      'E_STATE',
      `the states differ in names: missing ${missing.join(', ') || 'none'}; unexpected ${extra.join(', ') || 'none'}`,
    );
  }
  let identical = 0;
  let maxAbsDiff = 0;
  let maxRelDiff = 0;
  let worst = '';
  let worstRefMax = 0;
  for (const [name, a] of reference) {
    const b = other.get(name)!;
    if (a.dtype !== b.dtype || a.shape.join(',') !== b.shape.join(','))
      throw new TeeError('E_STATE', `${name}: ${a.dtype}[${a.shape}] against ${b.dtype}[${b.shape}]`);
    if (sameBytes(a.data, b.data)) {
      identical++;
      continue;
    }
    const x = floats(a);
    const y = floats(b);
    if (x === null || y === null) {
      // An integer buffer (num_batches_tracked) that differs: as far apart as it gets.
      maxAbsDiff = Number.POSITIVE_INFINITY;
      maxRelDiff = Number.POSITIVE_INFINITY;
      worst = name;
      continue;
    }
    let d = 0;
    let r = 0;
    for (let i = 0; i < x.length; i++) {
      const diff = Math.abs(x[i]! - y[i]!);
      if (!(diff <= d)) d = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
      r = Math.max(r, Math.abs(x[i]!));
    }
    const rel = r > 0 ? d / r : d === 0 ? 0 : Number.POSITIVE_INFINITY;
    if (d > maxAbsDiff) {
      maxAbsDiff = d;
      worst = name;
      worstRefMax = r;
    }
    maxRelDiff = Math.max(maxRelDiff, rel);
  }
  return { tensors: reference.size, identical, maxAbsDiff, worst, worstRefMax, maxRelDiff };
}
