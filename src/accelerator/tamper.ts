// A lying accelerator, for tests and the fault-injection benchmark only: a server option that corrupts
// chosen replies the way a malicious or broken accelerator could. Data corruptions (flip-element,
// change-row, scale, replay, add-modulus, non-integer) produce well-formed frames that only the trusted
// side's check can catch; the others (wrong-shape, garbage, never-reply, drop-mid-frame) must fail the
// client with E_FRAME or E_NETWORK. Every mode works on every arith, except two that only mean something
// for a wide result and leave the replies of other ariths honest: add-modulus adds p to one element —
// invisible to a check modulo p alone (a modp result plus p is out of range, refused without any check);
// non-integer puts a value that is no integer of the wire's range (a fraction, NaN, ±Infinity, 2^60) in
// one element — the client leaves wide values to the check, which validates every one of them.
// Never enabled by the CLI.
import { encodeResult, HALF_P } from '../protocol/linear-codec.js';
import { type Arith, MODULUS_P, WIDE_RESULT_LIMIT, type WireTensor } from '../protocol/linear-request.js';
import { SeededRng } from '../tensor/seeded-rng.js';

export const TAMPER_MODES = [
  'flip-element',
  'change-row',
  'scale',
  'replay',
  'add-modulus',
  'non-integer',
  'wrong-shape',
  'garbage',
  'never-reply',
  'drop-mid-frame',
] as const;
export type TamperMode = (typeof TAMPER_MODES)[number];

export interface TamperOptions {
  readonly mode: TamperMode;
  /** Index (0-based, over this server's replies) of the first reply tampered with; default 0. */
  readonly from?: number;
  /** Then every n-th reply; default 1 (all). Ignored when rate is set. */
  readonly every?: number;
  /** Instead: each reply from `from` on is tampered with with this probability. */
  readonly rate?: number;
  /** Seed of the choices (which element, row, reply); default 1. */
  readonly seed?: number;
}

/** What goes on the wire for one reply: these bytes, nothing at all, or these bytes then a reset. */
export type TamperAction =
  | { readonly kind: 'send'; readonly parts: Buffer[] }
  | { readonly kind: 'silent' }
  | { readonly kind: 'drop'; readonly parts: Buffer[] };

function centered(v: number): number {
  let r = v % MODULUS_P;
  if (r > HALF_P) r -= MODULUS_P;
  else if (r < -HALF_P) r += MODULUS_P;
  return r;
}

export class Tamper {
  readonly mode: TamperMode;
  private readonly from: number;
  private readonly every: number;
  private readonly rate: number | undefined;
  private readonly rng: SeededRng;
  private index = 0;
  /** replay: the first result sent, replayed in place of later ones. */
  private previous: WireTensor | null = null;
  /** Replies corrupted so far. */
  tampered = 0;

  constructor(opts: TamperOptions) {
    if (!TAMPER_MODES.includes(opts.mode)) throw new RangeError(`unknown tamper mode '${String(opts.mode)}'`);
    this.mode = opts.mode;
    this.from = opts.from ?? 0;
    this.every = opts.every ?? 1;
    this.rate = opts.rate;
    this.rng = new SeededRng(opts.seed ?? 1);
    if (!Number.isInteger(this.from) || this.from < 0)
      throw new RangeError(`tamper from must be >= 0, got ${this.from}`);
    if (!Number.isInteger(this.every) || this.every < 1)
      throw new RangeError(`tamper every must be >= 1, got ${this.every}`);
    if (this.rate !== undefined && !(this.rate >= 0 && this.rate <= 1)) {
      throw new RangeError(`tamper rate must be in [0, 1], got ${this.rate}`);
    }
  }

  /** The bytes to send (or not) for the reply to request `id` with this honest result. */
  reply(id: number, arith: Arith, result: WireTensor, computeMs: number): TamperAction {
    const i = this.index++;
    const chosen =
      i >= this.from &&
      (this.rate !== undefined ? this.rng.nextFloat() < this.rate : (i - this.from) % this.every === 0);
    const honest = (): TamperAction => ({ kind: 'send', parts: encodeResult(id, computeMs, result, arith) });
    if (!chosen) {
      if (this.mode === 'replay' && this.previous === null) this.previous = copy(result);
      return honest();
    }
    // Adding p or a fraction means nothing outside arith wide: that reply goes out honest (not counted).
    if ((this.mode === 'add-modulus' || this.mode === 'non-integer') && arith !== 'wide') return honest();
    switch (this.mode) {
      case 'add-modulus':
      case 'non-integer':
      case 'flip-element':
      case 'change-row':
      case 'scale': {
        if (result.data.length === 0) return honest();
        this.tampered++;
        return { kind: 'send', parts: encodeResult(id, computeMs, this.corrupt(result, arith), arith) };
      }
      case 'replay': {
        // Always the first result this server sent: a retry of the same request gets it again too.
        const prev = this.previous;
        if (prev === null) {
          this.previous = copy(result);
          return honest();
        }
        this.tampered++;
        return { kind: 'send', parts: encodeResult(id, computeMs, prev, arith) };
      }
      case 'wrong-shape': {
        // One extra row of zeros: a self-consistent frame of the wrong shape.
        const shape = [...result.shape];
        shape[0] = (shape[0] ?? 0) + 1;
        const rowLen = result.shape.slice(1).reduce((a, b) => a * b, 1);
        const data = zerosLike(result.data, result.data.length + rowLen);
        data.set(result.data);
        this.tampered++;
        return { kind: 'send', parts: encodeResult(id, computeMs, { shape, data }, arith) };
      }
      case 'garbage': {
        const length = encodeResult(id, computeMs, result, arith).reduce((n, b) => n + b.length, 0);
        const junk = Buffer.allocUnsafe(length);
        for (let j = 0; j < length; j++) junk[j] = this.rng.nextU32() & 0xff;
        this.tampered++;
        return { kind: 'send', parts: [junk] };
      }
      case 'never-reply':
        this.tampered++;
        return { kind: 'silent' };
      case 'drop-mid-frame': {
        const whole = Buffer.concat(encodeResult(id, computeMs, result, arith));
        this.tampered++;
        return { kind: 'drop', parts: [whole.subarray(0, Math.max(1, whole.length >> 1))] };
      }
    }
  }

  private corrupt(result: WireTensor, arith: Arith): WireTensor {
    const data = result.data.slice();
    const n = data.length;
    const rowLen = result.shape.length > 0 ? (result.shape[result.shape.length - 1] ?? 1) || 1 : 1;
    const change = (v: number): number => {
      if (arith === 'modp') return centered(v + 1 + this.rng.nextInt(MODULUS_P - 1));
      // Another integer, off by less than p (so non-zero modulo p and any other prime above 2^23), towards
      // zero so that it stays below 2^53.
      if (arith === 'wide') return v - Math.sign(v || 1) * (1 + this.rng.nextInt(HALF_P));
      return v === 0 ? 1 : v + Math.max(1, Math.abs(v));
    };
    if (this.mode === 'add-modulus') {
      // ≡ the honest value mod p: only a check modulo another prime (or the integer bound) can tell.
      const j = this.rng.nextInt(n);
      const v = data[j]!;
      data[j] = v + MODULUS_P < WIDE_RESULT_LIMIT ? v + MODULUS_P : v - MODULUS_P;
    } else if (this.mode === 'non-integer') {
      const j = this.rng.nextInt(n);
      data[j] = nonInteger(data[j]!, this.tampered);
    } else if (this.mode === 'flip-element') {
      const j = this.rng.nextInt(n);
      data[j] = change(data[j]!);
    } else if (this.mode === 'change-row') {
      const row = this.rng.nextInt(Math.ceil(n / rowLen));
      for (let j = row * rowLen; j < Math.min(n, (row + 1) * rowLen); j++) data[j] = change(data[j]!);
    } else {
      // wide: ×2 is still an integer (below 2^53 for any honest |y| ≤ 2^52).
      for (let j = 0; j < n; j++) data[j] = arith === 'modp' ? centered(2 * data[j]!) : 2 * data[j]!;
    }
    return { shape: [...result.shape], data };
  }
}

/** The k-th of the values no wide result may hold, near v where that makes sense. */
export function nonInteger(v: number, k: number): number {
  const values = [
    v + 0.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 60,
    -(2 ** 53),
  ];
  return values[k % values.length]!;
}

function zerosLike(t: WireTensor['data'], n: number): WireTensor['data'] {
  if (t instanceof Float32Array) return new Float32Array(n);
  return t instanceof Int32Array ? new Int32Array(n) : new Float64Array(n);
}

function copy(t: WireTensor): WireTensor {
  return { shape: [...t.shape], data: t.data.slice() };
}
