// The "fixture init" of ../shared/fixtures/README.md: deterministic weights that the PyTorch golden
// fixtures were made with, so that a model built here starts bit for bit where PyTorch's did.
// v_i = float32((2·u_i − 1)·float32(B)), u_i from FNV-1a(name) ⊕ seed, a golden-ratio stride and fmix32.
import { TeeError } from '../errors.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const GOLDEN = 0x9e3779b9;

export function fnv1a32(s: string): number {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, FNV_PRIME) >>> 0;
  return h >>> 0;
}

export function fmix32(k: number): number {
  k ^= k >>> 16;
  k = Math.imul(k, 0x85ebca6b);
  k ^= k >>> 13;
  k = Math.imul(k, 0xc2b2ae35);
  k ^= k >>> 16;
  return k >>> 0;
}

/** n values uniform in [-B, B) for the parameter `name` (B rounded to float32 first). */
export function fixtureInit(name: string, n: number, bound: number, seed: number): Float32Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`fixtureInit: bad element count ${n}`);
  if (!Number.isInteger(seed)) throw new RangeError(`fixtureInit: seed must be an integer, got ${seed}`);
  const h = (fnv1a32(name) ^ seed) >>> 0;
  const b = Math.fround(bound);
  const out = new Float32Array(n);
  let k = h;
  for (let i = 0; i < n; i++) {
    const u = (fmix32(k) >>> 8) / 16777216;
    out[i] = (2 * u - 1) * b; // float64 product, rounded to float32 by the store
    k = (k + GOLDEN) >>> 0;
  }
  return out;
}

/** What fixtureInitModel needs of a state entry (a StateEntry from Module.stateEntries()). */
export interface InitEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

function prefixOf(name: string): string {
  return name.slice(0, name.lastIndexOf('.') + 1);
}

function fanIn(shape: readonly number[]): number {
  let f = 1;
  for (const d of shape.slice(1)) f *= d;
  return f;
}

/**
 * Initialises every entry in place, as the fixtures were: Conv2d/Linear weight and bias uniform with
 * B = 1/sqrt(fan_in) (a bias uses its sibling weight's fan_in); BatchNorm (a module that has a
 * running_mean) weight 1 + v and bias v with B = 0.1, running_mean 0, running_var 1,
 * num_batches_tracked 0.
 */
export function fixtureInitModel(entries: readonly InitEntry[], seed: number): void {
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const e of entries) {
    const leaf = e.name.slice(e.name.lastIndexOf('.') + 1);
    const prefix = prefixOf(e.name);
    if (e.data instanceof BigInt64Array) {
      e.data.fill(0n); // num_batches_tracked
      continue;
    }
    const isBatchNorm = byName.has(`${prefix}running_mean`) && e.shape.length === 1;
    if (leaf === 'running_mean') e.data.fill(0);
    else if (leaf === 'running_var') e.data.fill(1);
    else if (isBatchNorm && leaf === 'weight') {
      const v = fixtureInit(e.name, e.data.length, 0.1, seed);
      for (let i = 0; i < v.length; i++) e.data[i] = 1 + v[i]!; // rounded to float32 by the store
    } else if (isBatchNorm && leaf === 'bias') e.data.set(fixtureInit(e.name, e.data.length, 0.1, seed));
    else if (leaf === 'weight' && e.shape.length >= 2) {
      e.data.set(fixtureInit(e.name, e.data.length, 1 / Math.sqrt(fanIn(e.shape)), seed));
    } else if (leaf === 'bias') {
      const w = byName.get(`${prefix}weight`);
      if (w === undefined || w.shape.length < 2) {
        throw new TeeError(
          'E_STATE',
          `fixture init: bias ${e.name} has no conv/linear weight ${prefix}weight`,
        );
      }
      e.data.set(fixtureInit(e.name, e.data.length, 1 / Math.sqrt(fanIn(w.shape)), seed));
    } else {
      throw new TeeError('E_STATE', `fixture init: no rule for ${e.name} of shape [${e.shape}]`);
    }
  }
}
