// Slalom-style privacy for inference in exact mode (DESIGN.md "Privacy"; Tramèr & Boneh, Slalom, ICLR
// 2019): the enclave sends X + R (mod p) with R uniform in F_p — a one-time pad, so the accelerator learns
// nothing about X — and recovers X·W = (X + R)·W − R·W with the unblinding factor U = R·W precomputed
// offline for fixed weights W. A pad reused for two inputs leaks their difference, so a PadSet hands out
// each pad once, by increasing id, and refuses any id already used (also across serialize/deserialize:
// the counter is part of the authenticated state; rolling a stored set back is the storage's concern).
// A pad file is authenticated by a MAC hook (the encrypted-files layer supplies it) and the tag is
// verified before a byte of it is parsed; verifyFactors re-checks U against R·W with Freivalds.
import { createHash } from 'node:crypto';
import { TeeError } from '../errors.js';
import { type CryptoRng, isCryptoRng } from './crypto-rng.js';
import { centered, checkModulus, halfModulus } from './field.js';
import { type CheckOutcome, freivaldsExact } from './freivalds-exact.js';
import { modpKernels } from './native-modp.js';
import { numelOf, type ProductGeometry, productGeometry, resultShapeOf } from './product-geometry.js';

/** Authenticates a serialized pad set (HMAC-SHA256 or the GCM layer's tag; comparison in constant time). */
export interface MacHook {
  /** Length of a tag in bytes. */
  readonly tagLength: number;
  tag(data: Uint8Array): Uint8Array;
  verify(data: Uint8Array, tag: Uint8Array): boolean;
}

/** What the pads of a set are for: one forward product of one layer, for one input shape. */
export interface PadSpec {
  readonly label: string;
  readonly op: 'dense' | 'conv2d';
  readonly inputShape: readonly number[];
  readonly weightShape: readonly number[];
  readonly stride: number;
  readonly padding: number;
  /** The scale bits the weights were quantized with when the factors were made. */
  readonly weightBits: number;
  readonly p: number;
}

/** One pad: R (input-shaped) and U = R·W (output-shaped), centered representatives. */
export interface Pad {
  readonly id: number;
  readonly r: Int32Array;
  readonly u: Int32Array;
}

const MAGIC = 'TEEPADS1';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** SHA-256 of the quantized weights, their shape and scale: binds a pad set to the weights it was made for. */
export function weightDigest(wq: Int32Array, shape: readonly number[], bits: number): string {
  const h = createHash('sha256');
  h.update(`tee-offload/pads/v1 ${shape.join('x')} ${bits}\n`);
  h.update(int32Bytes(wq));
  return h.digest('hex');
}

/** (x + r) mod p, centered: what the accelerator sees. */
export function blind(xq: Int32Array, r: Int32Array, p: number): Int32Array {
  if (xq.length !== r.length)
    throw new TeeError('E_SHAPE', `blind: input has ${xq.length} elements, pad ${r.length}`);
  const out = new Int32Array(xq.length);
  const half = halfModulus(p);
  for (let i = 0; i < xq.length; i++) {
    let v = xq[i]! + r[i]!;
    if (v > half) v -= p;
    else if (v < -half) v += p;
    out[i] = v;
  }
  return out;
}

/** (y − u) mod p, centered: the product of the unblinded input. */
export function unblind(yb: Int32Array, u: Int32Array, p: number): Int32Array {
  if (yb.length !== u.length)
    throw new TeeError('E_SHAPE', `unblind: result has ${yb.length} elements, factor ${u.length}`);
  const out = new Int32Array(yb.length);
  const half = halfModulus(p);
  for (let i = 0; i < yb.length; i++) {
    let v = yb[i]! - u[i]!;
    if (v > half) v -= p;
    else if (v < -half) v += p;
    out[i] = v;
  }
  return out;
}

function specGeometry(spec: PadSpec): ProductGeometry {
  return productGeometry(spec.op, spec.inputShape, spec.weightShape, {
    stride: spec.stride,
    padding: spec.padding,
  });
}

// U = R·W mod p, centered, for the spec's product.
function unblindingFactor(g: ProductGeometry, r: Int32Array, wq: Int32Array, p: number): Int32Array {
  let u: Int32Array;
  if (g.op === 'dense') {
    // u[n,o] = Σ_i r[n,i]·w[o,i]: matvecs over w's rows with the n pads as vectors.
    u = modpKernels.matvecs(g.o, g.i, g.n, wq, r, p);
  } else if (g.op === 'conv2d') {
    // A convolution with O output channels: the check kernel with reps = O.
    const dims = { n: g.n, c: g.c, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
    u = modpKernels.conv(dims, g.o, r, wq, p);
  } else {
    throw new TypeError(`pads cover dense and conv2d, not ${g.op}`);
  }
  for (let i = 0; i < u.length; i++) u[i] = centered(u[i]!, p);
  return u;
}

function int32Bytes(a: Int32Array): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('pad sets are stored little-endian; this host is big-endian');
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class PadSet {
  readonly spec: PadSpec;
  readonly weightDigest: string;
  /** Pads ever made for this set; ids are 0 .. count−1. */
  readonly count: number;
  #next: number;
  readonly #pads: Map<number, { r: Int32Array; u: Int32Array }>;
  readonly #inSize: number;
  readonly #outSize: number;

  private constructor(
    spec: PadSpec,
    digest: string,
    count: number,
    next: number,
    pads: Map<number, { r: Int32Array; u: Int32Array }>,
  ) {
    const g = specGeometry(spec);
    this.spec = Object.freeze({
      ...spec,
      inputShape: [...spec.inputShape],
      weightShape: [...spec.weightShape],
    });
    this.weightDigest = digest;
    this.count = count;
    this.#next = next;
    this.#pads = pads;
    this.#inSize = numelOf(spec.inputShape);
    this.#outSize = numelOf(resultShapeOf(g));
  }

  /** Makes `count` fresh pads for weights quantized as `wq` (offline, inside the enclave). */
  static generate(spec: PadSpec, wq: Int32Array, count: number, rng: CryptoRng): PadSet {
    if (!isCryptoRng(rng)) throw new TypeError('PadSet.generate: rng must be a CryptoRng');
    checkModulus(spec.p);
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`PadSet.generate: count must be an integer >= 1, got ${count}`);
    const g = specGeometry(spec);
    if (wq.length !== numelOf(spec.weightShape)) {
      throw new TeeError(
        'E_SHAPE',
        `PadSet.generate: weights have ${wq.length} elements, shape [${spec.weightShape}]`,
      );
    }
    const half = halfModulus(spec.p);
    const pads = new Map<number, { r: Int32Array; u: Int32Array }>();
    const inSize = numelOf(spec.inputShape);
    for (let id = 0; id < count; id++) {
      const r = rng.fieldElements(inSize, spec.p);
      for (let i = 0; i < r.length; i++) if (r[i]! > half) r[i]! -= spec.p;
      pads.set(id, { r, u: unblindingFactor(g, r, wq, spec.p) });
    }
    return new PadSet(spec, weightDigest(wq, spec.weightShape, spec.weightBits), count, 0, pads);
  }

  /** The id the next take() returns. */
  get nextId(): number {
    return this.#next;
  }

  get remaining(): number {
    return this.count - this.#next;
  }

  /** True when `wq` (at `bits`) are the weights this set was made for. */
  matches(wq: Int32Array, bits: number): boolean {
    return (
      bits === this.spec.weightBits && weightDigest(wq, this.spec.weightShape, bits) === this.weightDigest
    );
  }

  /** The next unused pad, removed from the set: no pad is ever handed out twice (E_STATE when none is left). */
  take(): Pad {
    return this.takeId(this.#next);
  }

  /** Pad `id`, which must be the next unused one: an id already handed out is refused (E_STATE). */
  takeId(id: number): Pad {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) {
      throw new TeeError(
        'E_STATE',
        `pad set '${this.spec.label}': no pad ${id} (the set has ids 0..${this.count - 1})`,
      );
    }
    if (id < this.#next) {
      throw new TeeError(
        'E_STATE',
        `pad set '${this.spec.label}': pad ${id} was already used; a one-time pad is never reused`,
      );
    }
    if (id > this.#next) {
      throw new TeeError(
        'E_STATE',
        `pad set '${this.spec.label}': pads are used in order; the next is ${this.#next}, not ${id}`,
      );
    }
    const pad = this.#pads.get(id);
    if (pad === undefined)
      throw new TeeError('E_STATE', `pad set '${this.spec.label}': pad ${id} is missing`);
    this.#pads.delete(id);
    this.#next = id + 1; // advanced before the pad leaves: a failure later cannot hand it out again
    return { id, r: pad.r, u: pad.u };
  }

  /** Freivalds check of every remaining factor U against R·W (a corrupted factor would corrupt results). */
  verifyFactors(wq: Int32Array, rng: CryptoRng, repetitions = 2): CheckOutcome {
    const g = specGeometry(this.spec);
    for (const [id, pad] of this.#pads) {
      const out = freivaldsExact(g, pad.r, wq, pad.u, { rng, p: this.spec.p, repetitions });
      if (!out.ok) return { ok: false, reason: `pad ${id}: ${out.reason}` };
    }
    return { ok: true, reason: '' };
  }

  /** The set's state (spec, counter, unused pads) followed by a MAC tag over all of it. */
  serialize(mac: MacHook): Uint8Array {
    const header = new TextEncoder().encode(
      JSON.stringify({
        version: 1,
        ...this.spec,
        weightDigest: this.weightDigest,
        count: this.count,
        next: this.#next,
      }),
    );
    const ids = [...this.#pads.keys()].sort((x, y) => x - y);
    const padBytes = 4 + 4 * (this.#inSize + this.#outSize);
    const body = new Uint8Array(MAGIC.length + 4 + header.length + ids.length * padBytes);
    const view = new DataView(body.buffer);
    body.set(new TextEncoder().encode(MAGIC), 0);
    view.setUint32(MAGIC.length, header.length, true);
    body.set(header, MAGIC.length + 4);
    let at = MAGIC.length + 4 + header.length;
    for (const id of ids) {
      const pad = this.#pads.get(id)!;
      view.setUint32(at, id, true);
      body.set(int32Bytes(pad.r), at + 4);
      body.set(int32Bytes(pad.u), at + 4 + 4 * this.#inSize);
      at += padBytes;
    }
    const tag = mac.tag(body);
    if (tag.length !== mac.tagLength)
      throw new Error(`MAC hook returned a ${tag.length}-byte tag, expected ${mac.tagLength}`);
    const out = new Uint8Array(body.length + tag.length);
    out.set(body, 0);
    out.set(tag, body.length);
    return out;
  }

  /** Reads a serialized set; the tag is verified before anything is parsed (E_AUTH), then the form (E_FORMAT). */
  static deserialize(bytes: Uint8Array, mac: MacHook): PadSet {
    const t = mac.tagLength;
    if (bytes.length < MAGIC.length + 4 + t) throw new TeeError('E_FORMAT', 'pad set: truncated');
    const body = bytes.subarray(0, bytes.length - t);
    if (!mac.verify(body, bytes.subarray(bytes.length - t))) {
      throw new TeeError('E_AUTH', 'pad set: the authentication tag does not verify (tampered or wrong key)');
    }
    const bad = (why: string): TeeError => new TeeError('E_FORMAT', `pad set: ${why}`);
    if (new TextDecoder().decode(body.subarray(0, MAGIC.length)) !== MAGIC) throw bad('bad magic');
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const hlen = view.getUint32(MAGIC.length, true);
    if (MAGIC.length + 4 + hlen > body.length) throw bad('header runs past the end');
    let h: Record<string, unknown>;
    try {
      h = JSON.parse(
        new TextDecoder('utf-8', { fatal: true }).decode(
          body.subarray(MAGIC.length + 4, MAGIC.length + 4 + hlen),
        ),
      );
    } catch {
      throw bad('header is not JSON');
    }
    const int = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        throw bad(`${what} is not a non-negative integer`);
      return v;
    };
    const shape = (v: unknown, what: string): number[] => {
      if (!Array.isArray(v) || v.length === 0) throw bad(`${what} is not a shape`);
      return v.map((d) => int(d, what));
    };
    if (h.version !== 1) throw bad(`unsupported version ${String(h.version)}`);
    if (h.op !== 'dense' && h.op !== 'conv2d') throw bad(`unknown op ${String(h.op)}`);
    if (typeof h.label !== 'string' || typeof h.weightDigest !== 'string')
      throw bad('label or digest missing');
    const spec: PadSpec = {
      label: h.label,
      op: h.op,
      inputShape: shape(h.inputShape, 'inputShape'),
      weightShape: shape(h.weightShape, 'weightShape'),
      stride: int(h.stride, 'stride'),
      padding: int(h.padding, 'padding'),
      weightBits: typeof h.weightBits === 'number' && Number.isInteger(h.weightBits) ? h.weightBits : NaN,
      p: int(h.p, 'p'),
    };
    if (Number.isNaN(spec.weightBits)) throw bad('weightBits is not an integer');
    try {
      checkModulus(spec.p);
      specGeometry(spec);
    } catch (e) {
      throw bad(`inconsistent spec: ${(e as Error).message}`);
    }
    const count = int(h.count, 'count');
    const next = int(h.next, 'next');
    if (next > count) throw bad('next is beyond count');
    const inSize = numelOf(spec.inputShape);
    const outSize = numelOf(resultShapeOf(specGeometry(spec)));
    const padBytes = 4 + 4 * (inSize + outSize);
    const start = MAGIC.length + 4 + hlen;
    if (body.length - start !== (count - next) * padBytes)
      throw bad('body length does not match the unused pads');
    const half = halfModulus(spec.p);
    const pads = new Map<number, { r: Int32Array; u: Int32Array }>();
    for (let k = 0, at = start; k < count - next; k++, at += padBytes) {
      const id = view.getUint32(at, true);
      if (id !== next + k) throw bad(`pad ${k} has id ${id}, expected ${next + k}`);
      const vals = new Int32Array(inSize + outSize);
      for (let i = 0; i < vals.length; i++) {
        const v = view.getInt32(at + 4 + 4 * i, true);
        if (v > half || v < -half) throw bad(`pad ${id} holds a value outside the field`);
        vals[i] = v;
      }
      pads.set(id, { r: vals.subarray(0, inSize), u: vals.subarray(inSize) });
    }
    return new PadSet(spec, h.weightDigest, count, next, pads);
  }
}
