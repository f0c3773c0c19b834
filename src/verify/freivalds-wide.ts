// Exact-mode integrity in the wide field (field.ts): the accelerator returns the exact integer product Y of
// quantized operands A, B as float64. Y is accepted iff every element is an integer with |y| ≤ outputHalf
// and Y·r ≡ A·(B·r) (mod P) for `repetitions` vectors r drawn uniformly from F_P by the crypto RNG afresh
// for every check, P = 2^50 − 27. The true product also lies within ±outputHalf (asserted when the operands
// were quantized) and 2·outputHalf < P, so a wrong Y differs from it modulo P, and each repetition misses it
// with probability ≤ 1/P: one repetition (the default) gives 2^-50 for the dense products. The convolutions
// use structured vectors: the weight gradient is checked from both sides (2/P per repetition,
// gradWeightSides), the forward and grad-input results, where that is cheaper (structuredConv: rows of 24
// or more, strided grad-input), are contracted over channels ⊗ rows ⊗ columns (3/P, convSides and
// convTSides), which turns the folded convolution of the channel-only check into k passes over the input
// rows. The arithmetic mod P runs in the native addon on 25-bit limbs of the vectors (native-wide.ts).

import { isCryptoRng } from './crypto-rng.js';
import type { ExactField } from './field.js';
import {
  type CheckOutcome,
  checkRepetitions,
  compareSides,
  type ExactCheckOptions,
  resultFormProblem,
  trivialOutcome,
} from './freivalds-exact.js';
import { operandSides, type PendingSides, type SideKernels } from './freivalds-sides.js';
import { wideKernels } from './native-wide.js';
import {
  type ConvGeometry,
  foldLength,
  innerLength,
  numelOf,
  type ProductGeometry,
  resultShapeOf,
} from './product-geometry.js';

/**
 * Why an untrusted wide result cannot be the answer to `g` by its form ('' when fine): not a
 * Float64Array, or a shape or length other than the product's. Its values are judged by freivaldsWide.
 */
export function wideResultProblem(
  g: ProductGeometry,
  result: { readonly shape: readonly number[]; readonly data: unknown },
): string {
  return resultFormProblem(g, result, Float64Array, 'wide');
}

// Operands (Int32Array) or the untrusted result (Float64Array): operandSides hands the result only to the
// lhs fold or matvecs.
type WideOperand = Int32Array | Float64Array;

function operand(v: WideOperand): Int32Array {
  if (!(v instanceof Int32Array)) throw new TypeError('freivaldsWide: the result reached an operand kernel');
  return v;
}

/**
 * How a forward or grad-input convolution is checked: 'structured' (vectors over channels ⊗ rows ⊗
 * columns, convSides; 3/P), 'folded' (the result's channels folded, then a convolution with the folded
 * weights; 1/P) or 'auto' (default): whichever costs less for the geometry (structuredConv).
 */
export type ConvCheck = 'auto' | 'structured' | 'folded';

export interface WideCheckOptions extends Omit<ExactCheckOptions, 'p'> {
  readonly convCheck?: ConvCheck;
}

/**
 * Whether `auto` checks this product with structured vectors. The structured check reads every row once
 * per kernel column where the folded one convolves with k² taps, but pays a few reductions per row: it
 * wins for rows of 24 or more (measured over ResNet-18 and VGG19-BN layers at 28²–224², batch 1 and 32:
 * at 7² and 14² the folded check is 10–70 % cheaper, from 28² on the structured one, up to 3× at 224²)
 * and for strided grad-input products (the folded transposed convolution has no fast path); not for 1×1
 * kernels (the same multiply-adds either way).
 */
export function structuredConv(g: ProductGeometry, choice: ConvCheck = 'auto'): boolean {
  if (g.op !== 'conv2d' && g.op !== 'conv2dGradInput') return false;
  if (choice !== 'auto') return choice === 'structured';
  const rowLength = g.op === 'conv2d' ? g.w : g.ow;
  return g.k > 1 && (rowLength >= 24 || (g.op === 'conv2dGradInput' && g.stride > 1));
}

/**
 * Checks Y = A·B (as `g` defines it) exactly over the integers, via the field's bound and prime. a, b
 * hold centered representatives of 2^24 − 3 (what was sent). Never throws for a wrong Y.
 */
export function freivaldsWide(
  g: ProductGeometry,
  a: Int32Array,
  b: Int32Array,
  y: Float64Array,
  field: ExactField,
  opts: WideCheckOptions,
): CheckOutcome {
  return wideCheck(g, a, b, field, opts).finish(y);
}

/** A wide check whose operand side is done: finish(y) judges a result once; discard() drops it unused. */
export interface WideCheck {
  finish(y: Float64Array): CheckOutcome;
  discard(): void;
}

// The result side's record of the first refused element (the result kernels report it).
interface Seen {
  bad: number;
  take(side: { out: Float64Array; bad: number }): Float64Array;
}

function seenRecord(): Seen {
  const s: Seen = {
    bad: -1,
    take: (side) => {
      if (side.bad >= 0 && s.bad < 0) s.bad = side.bad;
      return side.out;
    },
  };
  return s;
}

/**
 * The operand side of freivaldsWide, done now: fresh random vectors drawn and A·(B·r) computed from the
 * operands alone, before the result exists — right after quantization, while the operands are in cache.
 * The vectors never leave this object; finish(y) uses them once and wipes them (so does discard()).
 */
export function wideCheck(
  g: ProductGeometry,
  a: Int32Array,
  b: Int32Array,
  field: ExactField,
  opts: WideCheckOptions,
): WideCheck {
  if (!isCryptoRng(opts.rng)) throw new TypeError('freivaldsWide: rng must be a CryptoRng');
  const p = field.modulus;
  const bound = field.outputHalf;
  const reps = checkRepetitions(opts.repetitions ?? field.repetitions);
  if (numelOf(resultShapeOf(g)) === 0 || innerLength(g) === 0 || a.length === 0 || b.length === 0) {
    // Nothing to fold: the result's length and zeros decide (trivialOutcome).
    return { finish: (y) => trivialOutcome(g, a, b, y)!, discard: () => {} };
  }
  const seen = seenRecord();
  const vectors: Float64Array[] = [];
  const draw = (n: number): Float64Array => {
    const v = opts.rng.wideFieldElements(n, p);
    vectors.push(v);
    return v;
  };
  const wipe = () => {
    for (const v of vectors) v.fill(0);
  };
  const r = draw(reps * foldLength(g));
  let s: PendingSides<Float64Array, Float64Array>;
  if (g.op === 'conv2dGradWeight') {
    const t = draw(reps * g.c);
    s = gradWeightSides(g, a, b, r, t, reps, p, bound, seen);
  } else if ((g.op === 'conv2d' || g.op === 'conv2dGradInput') && structuredConv(g, opts.convCheck)) {
    // u over (image, result row), v over result columns: see convSides.
    const fwd = g.op === 'conv2d';
    const u = draw(reps * g.n * (fwd ? g.oh : g.h));
    const v = draw(reps * (fwd ? g.ow : g.w));
    s = (fwd ? convSides : convTSides)(g, a, b, { r, u, v }, reps, p, bound, seen);
  } else {
    const kern: SideKernels<WideOperand, Float64Array> = {
      fold: (batch, rows, cols, k, x, rr) =>
        x instanceof Float64Array
          ? seen.take(wideKernels.foldResult(batch, rows, cols, k, x, rr, bound, p))
          : wideKernels.fold(batch, rows, cols, k, x, rr, p),
      matvecs: (m, kk, k, x, u) =>
        x instanceof Float64Array
          ? seen.take(wideKernels.matvecsResult(m, kk, k, x, u, bound, p))
          : wideKernels.matvecs(m, kk, k, x, u, p),
      conv: (d, k, x, wf) => wideKernels.conv(d, k, operand(x), wf, p),
      convT: (d, k, dy, wg) => wideKernels.convT(d, k, operand(dy), wg, p),
      convW: (d, k, dyf, x) => wideKernels.convW(d, k, dyf, operand(x), p),
    };
    s = operandSides<WideOperand, Float64Array>(kern, g, a, b, r, reps);
  }
  let used = false;
  return {
    finish: (y) => {
      if (used) throw new Error('wideCheck: a check judges one result (draw fresh vectors for another)');
      used = true;
      try {
        const trivial = trivialOutcome(g, a, b, y);
        if (trivial !== null) return trivial;
        const lhs = s.lhs(y);
        if (seen.bad >= 0) {
          return {
            ok: false,
            reason: `${g.op}: result element ${seen.bad} = ${y[seen.bad]} is not an integer within ±${bound}`,
          };
        }
        return compareSides(g, { lhs, rhs: s.rhs, batch: s.batch, inner: s.inner }, reps, ` mod ${p}`);
      } finally {
        wipe();
      }
    },
    discard: () => {
      used = true;
      wipe();
    },
  };
}

/**
 * The weight gradient checked from both sides: with r over the output channels and t over the input
 * channels, for every tap (kh, kw) rᵀ·dW[:,:,kh,kw]·t = Σ_b Σ_pos (rᵀdY)[b,pos]·(tᵀX)[b,pos·s+(kh,kw)−pad].
 * The right side is two folds (dY over o, X over c) and one plane correlation per tap — instead of
 * correlating the folded dY with every input channel — and a wrong dW is missed with probability at most
 * 2/P per tap (the error matrix E ≠ 0 of a tap: E·t = 0 with probability ≤ 1/P, then rᵀ(E·t) = 0 with
 * probability 1/P). Layout of both sides: [reps, k·k].
 */
function gradWeightSides(
  g: ConvGeometry,
  dy: Int32Array,
  x: Int32Array,
  r: Float64Array,
  t: Float64Array,
  reps: number,
  p: number,
  bound: number,
  seen: Seen,
): PendingSides<Float64Array, Float64Array> {
  const kk = g.k * g.k;
  // Right: dY [n, o, oh·ow] over o with r, X [n, c, h·w] over c with t, then one correlation per tap.
  const dyf = wideKernels.fold(g.n, g.o, g.oh * g.ow, reps, dy, r, p);
  const xt = wideKernels.fold(g.n, g.c, g.h * g.w, reps, x, t, p);
  const dims = { n: g.n, c: 1, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
  const rhs = wideKernels.corrResidues(dims, reps, dyf, xt, p);
  // Left: dW [o, c·k·k] folded over o with r (validating every element), then over c with t per tap.
  const lhs = (y: Float64Array): Float64Array => {
    const folded = seen.take(wideKernels.foldResult(1, g.o, g.c * kk, reps, y, r, bound, p));
    return wideKernels.dotResidues(reps, g.c, kk, t, folded, p);
  };
  return { rhs, lhs, batch: 1, inner: kk };
}

/** Random vectors of a structured convolution check: over channels, over (image, row), over columns. */
interface ConvVectors {
  readonly r: Float64Array;
  readonly u: Float64Array;
  readonly v: Float64Array;
}

/** The operand side of a structured forward or grad-input check (a, w: the operands as sent). */
type StructuredSides = (
  g: ConvGeometry,
  a: Int32Array,
  w: Int32Array,
  vec: ConvVectors,
  reps: number,
  p: number,
  bound: number,
  seen: Seen,
) => PendingSides<Float64Array, Float64Array>;

/**
 * A column vector v [reps, len] spread for each kernel column kw: out[j,kw,x] = v[j, at(x, kw)] where
 * at(x, kw) gives the column of v that position x meets through kernel column kw, or −1 (then 0).
 */
function spreadColumns(
  v: Float64Array,
  reps: number,
  len: number,
  k: number,
  width: number,
  at: (x: number, kw: number) => number,
): Float64Array {
  const out = new Float64Array(reps * k * width);
  for (let j = 0; j < reps; j++) {
    for (let kw = 0; kw < k; kw++) {
      const row = (j * k + kw) * width;
      for (let x = 0; x < width; x++) {
        const i = at(x, kw);
        if (i >= 0 && i < len) out[row + x] = v[j * len + i]!;
      }
    }
  }
  return out;
}

/**
 * The left side of a structured check: the result y [n, chans, rows, cols] folded over its channels with r
 * (every element validated on the way), then contracted with u over (image, row) and v over columns.
 */
function contracted(
  n: number,
  chans: number,
  rows: number,
  cols: number,
  vec: ConvVectors,
  reps: number,
  p: number,
  bound: number,
  seen: Seen,
): (y: Float64Array) => Float64Array {
  return (y) => {
    const folded = seen.take(wideKernels.foldResult(n, chans, rows * cols, reps, y, vec.r, bound, p));
    return wideKernels.bilinear(n, reps, rows, cols, folded, vec.u, vec.v, p);
  };
}

/**
 * The forward convolution checked with r over output channels, u over (image, output row) and v over output
 * columns: Σ r_o·u_(b,oy)·v_ox·Y[b,o,oy,ox] = Σ_(c,kh,kw) (rᵀW)[c,kh,kw]·Σ_(b,oy) u_(b,oy)·hf[kw,b,c,oy·s+kh−pad],
 * where hf[kw,b,c,row] = Σ_ox v_ox·X[b,c,row,ox·s+kw−pad] is one matvec of every input row against v spread
 * for kw. The input is read once per kernel column (k passes over rows) instead of once per tap (k²): about
 * k times less work than the channel-folded convolution. A wrong Y (E ≠ 0 mod P) is missed with probability
 * at most 3/P: the difference of the two sides is a nonzero polynomial of degree 3 in (r, u, v)
 * (Schwartz–Zippel). Both sides: [reps].
 */
const convSides: StructuredSides = (g, x, w, vec, reps, p, bound, seen) => {
  const { r, u, v } = vec;
  const f = wideKernels.fold(1, g.o, g.c * g.k * g.k, reps, w, r, p);
  const spread = spreadColumns(v, reps, g.ow, g.k, g.w, (ix, kw) => {
    const t = ix + g.padding - kw;
    return t % g.stride === 0 ? t / g.stride : -1;
  });
  const hf = wideKernels.matvecs(g.n * g.c * g.h, g.w, reps * g.k, x, spread, p);
  const dims = { n: g.n, c: g.c, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
  const rhs = wideKernels.convRows(dims, reps, hf, u, f, p);
  return { rhs, lhs: contracted(g.n, g.o, g.oh, g.ow, vec, reps, p, bound, seen), batch: 1, inner: 1 };
};

/**
 * The grad-input convolution checked the same way, r over input channels, u over (image, input row), v over
 * input columns: Σ r_c·u_(b,y)·v_x·dX[b,c,y,x] = Σ_(o,kh,kw) (W·r)[o,kh,kw]·Σ_(b,i) hb[kw,b,o,i]·u_(b,i·s+kh−pad)
 * with hb[kw,b,o,i] = Σ_j dY[b,o,i,j]·v_(j·s+kw−pad) (positions outside the input count 0). Missed with
 * probability at most 3/P. Both sides: [reps].
 */
const convTSides: StructuredSides = (g, dy, w, vec, reps, p, bound, seen) => {
  const { r, u, v } = vec;
  const wg = wideKernels.fold(g.o, g.c, g.k * g.k, reps, w, r, p);
  const spread = spreadColumns(v, reps, g.w, g.k, g.ow, (jx, kw) => jx * g.stride + kw - g.padding);
  const hb = wideKernels.matvecs(g.n * g.o * g.oh, g.ow, reps * g.k, dy, spread, p);
  const dims = { n: g.n, c: g.o, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
  const rhs = wideKernels.convTRows(dims, reps, hb, u, wg, p);
  return { rhs, lhs: contracted(g.n, g.c, g.h, g.w, vec, reps, p, bound, seen), batch: 1, inner: 1 };
};
