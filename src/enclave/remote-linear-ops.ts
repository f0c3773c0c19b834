// The split protocol's LinearOps (DESIGN.md "The seam", "Integrity", "Privacy"): each product goes to an
// untrusted accelerator through an AcceleratorTransport and comes back checked.
//   exact: quantize (no-wrap bound asserted) → [blind with a one-time pad] → request → form check +
//          Freivalds → [unblind] → dequantize to float32. Field 'wide' (default): the accelerator returns
//          the exact integer product (arith 'wide'), checked modulo 2^50 − 27 under a 2^47 bound (about
//          20 bits per operand); field 'p24': products mod p = 2^24 − 3 (arith 'modp', about 8 bits per
//          operand), the only field blinding pads work in (field.ts, docs/integrity.md).
//   float: f32 request → form check + Freivalds in float64 with a rigorous rounding bound.
//   off:   f32 request, no check (a loud warning, once): for measurements only.
// A refused reply or a transport error is retried once on a fresh connection; then the call throws
// E_VERIFY (or E_NETWORK). A verified result is decoded in the same synchronous step as its check, into a
// buffer of the trusted side's own (never the reply's): an unverified value never enters the model.
// Timings per op kind and per layer label: stats(). How one request is built and its reply judged:
// prepared-product.ts.
import { TeeError } from '../errors.js';
import { kernels } from '../kernels/index.js';
import { type BackwardOuts, type ConvParams, callLinearOp, type LinearOps } from '../kernels/linear-ops.js';
import { LocalLinearOps } from '../kernels/local-linear-ops.js';
import {
  type AcceleratorTransport,
  type CacheHint,
  type LinearOpName,
  type LinearReply,
  MODULUS_P,
} from '../protocol/linear-request.js';
import { Tensor } from '../tensor/tensor.js';
import type { PadSet } from '../verify/blinding.js';
import { CryptoRng, isCryptoRng } from '../verify/crypto-rng.js';
import { DEFAULT_MODULUS, type ExactField, type ExactFieldName, exactField } from '../verify/field.js';
import { checkRepetitions, DEFAULT_REPETITIONS } from '../verify/freivalds-exact.js';
import type { FloatBound, FloatVectors } from '../verify/freivalds-float.js';
import { innerChunks, innerUnits } from '../verify/inner-chunks.js';
import {
  aShapeOf,
  innerLength,
  isConv,
  numelOf,
  type ProductGeometry,
  type ProductParams,
  productGeometry,
  resultShapeOf,
} from '../verify/product-geometry.js';
import {
  DEFAULT_QUANT_CONFIG,
  partsToFit,
  type QuantConfig,
  QuantizationFitError,
  quantConfig,
  quantizeTensor,
  WIDE_QUANT_CONFIG,
} from '../verify/quantize.js';
import { IntBufferPool } from './int-buffer-pool.js';
import { arithmeticIntensity, checkMinIntensity } from './placement.js';
import {
  type ExactPad,
  type Prepared,
  prepareExact,
  prepareFloat,
  type ResultData,
  type SharedA,
} from './prepared-product.js';
import { emptyTotals, type PhaseTotals, type RemoteStats, RemoteStatsRecorder } from './remote-stats.js';

if (MODULUS_P !== DEFAULT_MODULUS) throw new Error('protocol and verify disagree on the modulus');

export type IntegrityMode = 'exact' | 'float' | 'off';

export interface RemoteLinearOpsOptions {
  /** Default 'exact'. */
  readonly integrity?: IntegrityMode;
  /**
   * Freivalds repetitions per product (default: the fewest that give soundness ≤ 2^-48: 1 in the wide
   * field, 2 in p24 and in float mode).
   */
  readonly repetitions?: number;
  /**
   * Exact mode's field (field.ts): 'wide' (default; exact integer products checked modulo one ~2^50 prime,
   * about 20 bits per operand) or 'p24' (products mod 2^24 − 3, about 8 bits per operand; the default
   * and the only choice with blinding pads).
   */
  readonly field?: ExactFieldName;
  /**
   * Scale-bit caps and the minimum precision of exact mode, over the field's defaults (quantize.ts:
   * DEFAULT_QUANT_CONFIG for p24, WIDE_QUANT_CONFIG for wide).
   */
  readonly quant?: Partial<QuantConfig>;
  /**
   * Exact mode: the longest inner (reduction) product one request may carry. A longer product is cut over
   * its inner dimension into chunks, each its own request with its own scales and Freivalds check, summed
   * here in float64 (docs/integrity.md "Products too long for p"). Default: no limit — a product is cut
   * only when no scale fits p at `quant.minBits` bits.
   */
  readonly maxInnerLength?: number;
  /**
   * Placement policy (placement.ts): a product with fewer flops per wire byte than this runs inside on
   * `local` instead (counted in stats as `local`). Default 0: everything is offloaded.
   */
  readonly offloadMinIntensity?: number;
  /** Where kept-inside products run (default: LocalLinearOps over the native kernels; stats count the time a call takes to return its promise, all of it for these synchronous kernels). */
  readonly local?: LinearOps;
  /**
   * Ask the accelerator to keep each weight tensor of a forward product and reuse it for the grad-input
   * product of the same step instead of receiving it again (protocol 2 operand cache; default true).
   * Safe: every result is still checked against the weights held here.
   */
  readonly cacheWeights?: boolean;
  /**
   * A layer's two backward products (denseBackward / conv2dBackward) share their dy: in exact mode it is
   * quantized once, at the grad-input product's scale (the grad-weight product fits its other operand's
   * scale to it, or quantizes dy afresh when that cannot fit), and the accelerator keeps it from the
   * grad-input request for the grad-weight one (protocol 4 operand cache; default true). Safe: both
   * results are checked against the integers held here.
   */
  readonly cacheGradients?: boolean;
  /** Deadline of one accelerator call (ms), passed to the transport. */
  readonly deadlineMs?: number;
  /** Float mode: random vectors uniform in [−1, 1) (default) or ±1. */
  readonly floatVectors?: FloatVectors;
  /** Float mode: widens the accelerator's rounding allowance (default 1: the rigorous bound). */
  readonly floatSlack?: number;
  /**
   * Float mode: the tolerance's |·| term for the convolutions, 'tap-max' (default: an upper bound at a
   * fraction of a convolution's cost) or 'full' (exact, one more convolution; docs/integrity.md "Float mode").
   */
  readonly floatBound?: FloatBound;
  /**
   * Inference privacy (exact mode): the pad set of a layer label. When given, every dense/conv2d forward
   * must come through a labelled view with a pad set made for the current weights, and backward
   * products are refused (pads cannot hide training: DESIGN.md "Privacy").
   */
  readonly pads?: (label: string) => PadSet | undefined;
  /** Where the one-time 'off' warning goes (default: stderr). */
  readonly warn?: (message: string) => void;
  /** Randomness for checks, pads' companions and stochastic rounding (default: a fresh CryptoRng). */
  readonly rng?: CryptoRng;
  /** Called after every completed product (tracing, tests). */
  readonly onProduct?: (trace: ProductTrace) => void;
}

/** What one completed product did. */
export interface ProductTrace {
  readonly op: LinearOpName;
  readonly label: string | undefined;
  readonly integrity: IntegrityMode;
  /** Exact mode's field. */
  readonly field?: ExactFieldName;
  /** 1, or 2 after a retry. */
  readonly attempts: number;
  readonly blinded: boolean;
  /** Exact mode: the operands' scale bits and the bound on |result − float product| (docs/integrity.md). */
  readonly aBits?: number;
  readonly bBits?: number;
  readonly errorBound?: number;
  /** Requests the product was cut into over its inner dimension (1: not cut). */
  readonly chunks?: number;
  readonly timings: Readonly<PhaseTotals>;
}

const P = DEFAULT_MODULUS;

function now(): number {
  return performance.now();
}

function finiteNonNegative(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

export class RemoteLinearOps implements LinearOps {
  readonly name: string;
  /**
   * Offered buffers are written: the verified result is dequantized (or copied) into them, and kept-inside
   * products compute into them, so a layer's reused workspaces serve split mode too (no fresh pages per
   * product: VGG19-BN's classifier weight gradient alone is 411 MB).
   */
  readonly writesOut = true;
  readonly integrity: IntegrityMode;
  private readonly transport: AcceleratorTransport;
  private readonly repetitions: number | undefined;
  // The quantized operands' buffers, reused from product to product (int-buffer-pool.ts).
  private readonly pool = new IntBufferPool();
  private readonly field: ExactField;
  private readonly quant: QuantConfig;
  private readonly deadlineMs: number | undefined;
  private readonly maxInnerLength: number;
  private readonly offloadMinIntensity: number;
  private readonly cacheWeights: boolean;
  // Weight tensors (by identity) → their operand-cache key and, in exact mode, the scale their forward
  // product quantized them at (the grad-input product reuses that scale so that the integers match).
  private readonly weightKeys = new WeakMap<Float32Array, { key: number; bits?: number }>();
  // A layer's dy in the operand cache, by the layer's weight tensor: one key per layer, replaced each step.
  private readonly dyKeys = new WeakMap<Float32Array, number>();
  private readonly cacheGradients: boolean;
  private nextKey = 1;
  private localOps: LinearOps | undefined;
  private readonly floatVectors: FloatVectors;
  private readonly floatSlack: number;
  private readonly floatBound: FloatBound;
  private readonly pads: ((label: string) => PadSet | undefined) | undefined;
  private readonly warn: (message: string) => void;
  private readonly rng: CryptoRng;
  private readonly onProduct: ((trace: ProductTrace) => void) | undefined;
  private readonly recorder = new RemoteStatsRecorder();
  private readonly views = new Map<string, LinearOps>();
  private warned = false;

  constructor(transport: AcceleratorTransport, opts: RemoteLinearOpsOptions = {}) {
    const integrity = opts.integrity ?? 'exact';
    if (integrity !== 'exact' && integrity !== 'float' && integrity !== 'off') {
      throw new RangeError(`integrity must be 'exact', 'float' or 'off', got '${String(integrity)}'`);
    }
    if (opts.rng !== undefined && !isCryptoRng(opts.rng)) throw new TypeError('rng must be a CryptoRng');
    if (opts.deadlineMs !== undefined && !(opts.deadlineMs > 0)) {
      throw new RangeError(`deadlineMs must be a positive number, got ${opts.deadlineMs}`);
    }
    if (opts.pads !== undefined && integrity !== 'exact') {
      throw new RangeError('blinding pads need integrity "exact"');
    }
    this.transport = transport;
    this.integrity = integrity;
    this.name = `remote(${integrity})`;
    this.repetitions = opts.repetitions === undefined ? undefined : checkRepetitions(opts.repetitions);
    const fieldName = opts.field ?? (opts.pads !== undefined ? 'p24' : 'wide');
    this.field = exactField(fieldName);
    if (opts.pads !== undefined && this.field.name !== 'p24') {
      throw new RangeError("blinding pads need exact field 'p24' (the pads live in F_p, p = 2^24 − 3)");
    }
    this.quant = quantConfig(
      opts.quant,
      this.field.name === 'wide' ? WIDE_QUANT_CONFIG : DEFAULT_QUANT_CONFIG,
    );
    this.deadlineMs = opts.deadlineMs;
    if (
      opts.maxInnerLength !== undefined &&
      !(Number.isInteger(opts.maxInnerLength) && opts.maxInnerLength >= 1)
    ) {
      throw new RangeError(`maxInnerLength must be an integer >= 1, got ${opts.maxInnerLength}`);
    }
    this.maxInnerLength = opts.maxInnerLength ?? Number.POSITIVE_INFINITY;
    this.offloadMinIntensity = checkMinIntensity(opts.offloadMinIntensity ?? 0);
    this.cacheWeights = opts.cacheWeights ?? true;
    this.cacheGradients = opts.cacheGradients ?? true;
    this.localOps = opts.local;
    this.floatVectors = opts.floatVectors ?? 'uniform';
    this.floatSlack = opts.floatSlack ?? 1;
    if (opts.floatBound !== undefined && opts.floatBound !== 'tap-max' && opts.floatBound !== 'full') {
      throw new RangeError(`floatBound must be 'tap-max' or 'full', got ${String(opts.floatBound)}`);
    }
    this.floatBound = opts.floatBound ?? 'tap-max';
    this.pads = opts.pads;
    this.warn = opts.warn ?? ((m) => process.stderr.write(`${m}\n`));
    this.rng = opts.rng ?? new CryptoRng();
    this.onProduct = opts.onProduct;
  }

  /** A view whose products are counted under `label` in stats().byLayer (and find their pad set). */
  forLayer(label: string): LinearOps {
    if (typeof label !== 'string' || label === '')
      throw new TypeError('forLayer: label must be a non-empty string');
    let v = this.views.get(label);
    if (v === undefined) {
      v = new LabelledRemoteOps(this, label);
      this.views.set(label, v);
    }
    return v;
  }

  /** Totals per op kind, per layer label and overall since construction or resetStats(). */
  stats(): RemoteStats {
    return this.recorder.snapshot();
  }

  resetStats(): void {
    this.recorder.reset();
  }

  // x [N,I], w [O,I] → y [N,O] = x·wᵀ
  dense(x: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    return this.run('dense', x, w, {}, undefined, out);
  }

  // dy [N,O], w [O,I] → dx [N,I] = dy·w
  denseGradInput(dy: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    return this.run('denseGradInput', dy, w, {}, undefined, out);
  }

  // dy [N,O], x [N,I] → dw [O,I] = dyᵀ·x
  denseGradWeight(dy: Tensor, x: Tensor, out?: Tensor): Promise<Tensor> {
    return this.run('denseGradWeight', dy, x, {}, undefined, out);
  }

  // x [N,C,H,W], w [O,C,k,k] → y [N,O,H',W']
  conv2d(x: Tensor, w: Tensor, p: ConvParams, out?: Tensor): Promise<Tensor> {
    return this.run('conv2d', x, w, conv(p), undefined, out);
  }

  // dy [N,O,H',W'], w [O,C,k,k] → dx [N,C,H,W]
  conv2dGradInput(
    dy: Tensor,
    w: Tensor,
    p: ConvParams,
    inputHW: readonly [number, number],
    out?: Tensor,
  ): Promise<Tensor> {
    return this.run(
      'conv2dGradInput',
      dy,
      w,
      { ...conv(p), inputHW: [inputHW[0], inputHW[1]] },
      undefined,
      out,
    );
  }

  // dy [N,O,H',W'], x [N,C,H,W] → dw [O,C,k,k]
  conv2dGradWeight(dy: Tensor, x: Tensor, p: ConvParams, k: number, out?: Tensor): Promise<Tensor> {
    return this.run('conv2dGradWeight', dy, x, { ...conv(p), k }, undefined, out);
  }

  // [denseGradInput(dy, w), denseGradWeight(dy, x)] with dy shared (cacheGradients)
  denseBackward(dy: Tensor, w: Tensor, x: Tensor, outs: BackwardOuts = {}): Promise<[Tensor, Tensor]> {
    return this.backwardPair(null, dy, w, x, undefined, outs);
  }

  // [conv2dGradInput(dy, w, …), conv2dGradWeight(dy, x, …)] with dy shared (cacheGradients)
  conv2dBackward(
    dy: Tensor,
    w: Tensor,
    x: Tensor,
    p: ConvParams,
    k: number,
    outs: BackwardOuts = {},
  ): Promise<[Tensor, Tensor]> {
    return this.backwardPair({ p, k }, dy, w, x, undefined, outs);
  }

  /**
   * A layer's grad-input and grad-weight products of one dy (conv when `conv` is given, else dense),
   * started together as the layer would start them. With cacheGradients the first one shares its dy
   * (the cache key, in exact mode its integers) with the second; those integers are wiped and pooled
   * once both are done, whichever way they ended.
   */
  async backwardPair(
    conv2: { p: ConvParams; k: number } | null,
    dy: Tensor,
    w: Tensor,
    x: Tensor,
    label: string | undefined,
    outs: BackwardOuts,
  ): Promise<[Tensor, Tensor]> {
    const giParams: ProductParams =
      conv2 === null ? {} : { ...conv(conv2.p), inputHW: [x.shape[2]!, x.shape[3]!] };
    const gwParams: ProductParams = conv2 === null ? {} : { ...conv(conv2.p), k: conv2.k };
    const [giOp, gwOp] =
      conv2 === null
        ? (['denseGradInput', 'denseGradWeight'] as const)
        : (['conv2dGradInput', 'conv2dGradWeight'] as const);
    if (!this.cacheGradients) {
      return Promise.all([
        this.run(giOp, dy, w, giParams, label, outs.dx),
        this.run(gwOp, dy, x, gwParams, label, outs.dw),
      ]);
    }
    const slot: DyShare = { key: this.dyKey(w.data), stored: false };
    const done = await Promise.allSettled([
      this.run(giOp, dy, w, giParams, label, outs.dx, { slot, first: true }),
      this.run(gwOp, dy, x, gwParams, label, outs.dw, { slot, first: false }),
    ]);
    if (slot.ints !== undefined) {
      slot.ints.fill(0);
      this.pool.give(slot.ints);
    }
    const [gi, gw] = done;
    if (gi.status === 'rejected') throw gi.reason;
    if (gw.status === 'rejected') throw gw.reason;
    return [gi.value, gw.value];
  }

  private dyKey(w: Float32Array): number {
    let key = this.dyKeys.get(w);
    if (key === undefined) {
      key = this.takeKey();
      this.dyKeys.set(w, key);
    }
    return key;
  }

  private takeKey(): number {
    const key = this.nextKey;
    this.nextKey = this.nextKey >= 0xffffffff ? 1 : this.nextKey + 1;
    return key;
  }

  /**
   * One product of `op` on a, b (LinearRequest's operand order), counted under `label`; written into
   * `out` (and `out` returned) when a buffer of the result's shape is offered.
   */
  async run(
    op: LinearOpName,
    a: Tensor,
    b: Tensor,
    params: ProductParams,
    label: string | undefined,
    out?: Tensor,
    share?: ShareRole,
  ): Promise<Tensor> {
    const t0 = now();
    const g = productGeometry(op, a.shape, b.shape, params);
    const outShape = resultShapeOf(g);
    if (out !== undefined && !sameShape(out.shape, outShape)) {
      throw new TeeError(
        'E_SHAPE',
        `${op}: the offered output buffer is [${out.shape.join(',')}], the result is [${outShape.join(',')}]`,
      );
    }
    if (numelOf(outShape) === 0 || innerLength(g) === 0 || a.size === 0 || b.size === 0) {
      // An empty sum: zero, and nothing needs to leave the enclave.
      if (out === undefined) return new Tensor(outShape);
      out.data.fill(0);
      return out;
    }
    if (this.offloadMinIntensity > 0 && arithmeticIntensity(g) < this.offloadMinIntensity) {
      return this.runLocal(g, a, b, params, label, t0, out);
    }
    if (this.integrity === 'off' && !this.warned) {
      this.warned = true;
      this.warn(
        'tee-offload: WARNING: integrity off: accelerator results are NOT verified ' +
          '(for measurements only; never for a model you rely on)',
      );
    }
    const sample = emptyTotals();
    const where = label === undefined ? op : `${op} (${label})`;
    const tq = now();
    const preps = this.prepare(g, a, b, params, label, share);
    sample.quantizeMs += now() - tq;
    try {
      let data: Float32Array;
      let attempts = 1;
      if (preps.length === 1) {
        const prep = preps[0]!;
        const got = await this.exchange(prep, sample, where, (y) => {
          const td = now();
          const d = prep.finish(y, out?.data);
          sample.dequantizeMs += now() - td;
          return d;
        });
        attempts = got.attempts;
        data = got.value;
      } else {
        // A cut product: every chunk verified on its own, then the decoded chunks added in float64.
        const sum = new Float64Array(numelOf(outShape));
        for (const prep of preps) {
          const got = await this.exchange(prep, sample, where, (y) => {
            const td = now();
            prep.accumulate(y, sum);
            sample.dequantizeMs += now() - td;
          });
          attempts = Math.max(attempts, got.attempts);
          prep.dispose();
        }
        const td = now();
        if (out === undefined) data = Float32Array.from(sum);
        else {
          data = out.data;
          for (let i = 0; i < sum.length; i++) data[i] = sum[i]!;
        }
        sample.dequantizeMs += now() - td;
      }
      sample.calls++;
      sample.totalMs += now() - t0;
      this.recorder.record(op, label, sample);
      this.onProduct?.({
        op,
        label,
        integrity: this.integrity,
        ...(this.integrity === 'exact' ? { field: this.field.name } : {}),
        attempts,
        blinded: false,
        ...mergeTraces(preps.map((p) => p.trace)),
        timings: sample,
      });
      return out ?? new Tensor(outShape, data);
    } catch (e) {
      sample.totalMs += now() - t0;
      this.recorder.record(op, label, sample);
      throw e;
    } finally {
      for (const prep of preps) prep.dispose();
    }
  }

  // The placement policy kept this product inside: computed here, nothing sent, nothing to check.
  private async runLocal(
    g: ProductGeometry,
    a: Tensor,
    b: Tensor,
    params: ProductParams,
    label: string | undefined,
    t0: number,
    out: Tensor | undefined,
  ): Promise<Tensor> {
    this.localOps ??= new LocalLinearOps(kernels);
    const { stride, padding } = params;
    const conv = 'k' in g ? { inputHW: [g.h, g.w] as const, k: g.k } : {};
    const started = (): Promise<Tensor> =>
      callLinearOp(this.localOps!, g.op, a, b, { stride, padding, ...conv }, out);
    const pending = started();
    // Timed up to the call's return: LocalLinearOps computes before it hands back its promise, and the
    // time to the promise's settling would also count what ran meanwhile (a Linear's backward starts its
    // grad-weight product before it awaits its grad-input product).
    const localMs = now() - t0;
    const y = await pending;
    const sample = emptyTotals();
    sample.local = 1;
    sample.localMs = localMs;
    this.recorder.record(g.op, label, sample);
    if (out === undefined || y === out) return y;
    out.data.set(y.data); // local ops that do not write into offered buffers
    return out;
  }

  // One request and its check, retried once on a fresh connection; `use` decodes the verified result in the
  // same synchronous step as its check (the bytes used are the bytes checked), and only then does the
  // reply's buffer go back to a pooling transport. E_VERIFY / E_NETWORK after the second failure.
  private async exchange<T>(
    prep: Prepared,
    sample: PhaseTotals,
    where: string,
    use: (y: ResultData) => T,
  ): Promise<{ value: T; attempts: number }> {
    let lastError: unknown;
    let lastKind: 'network' | 'verify' = 'verify';
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (attempt === 2) {
        sample.retries++;
        try {
          await this.transport.reconnect(prep.req);
        } catch (e) {
          lastError = e;
          lastKind = 'network';
          break;
        }
      }
      if (prep.precheck !== undefined) {
        // The check's operand side now, while the operands just quantized are still in cache.
        const tp = now();
        prep.precheck();
        sample.verifyMs += now() - tp;
      }
      let reply: LinearReply;
      try {
        reply = await this.transport.call(
          prep.req,
          this.deadlineMs !== undefined ? { deadlineMs: this.deadlineMs } : {},
        );
      } catch (e) {
        sample.failures++;
        lastError = e;
        lastKind = e instanceof TeeError && e.code === 'E_NETWORK' ? 'network' : 'verify';
        continue;
      }
      const st = reply?.stats;
      sample.sendMs += finiteNonNegative(st?.sendMs);
      sample.computeMs += finiteNonNegative(st?.computeMs);
      sample.receiveMs += finiteNonNegative(st?.receiveMs);
      sample.bytesSent += finiteNonNegative(st?.bytesSent);
      sample.bytesReceived += finiteNonNegative(st?.bytesReceived);
      sample.bytesCached += finiteNonNegative(st?.bytesCached);
      const tv = now();
      const result = {
        shape: reply?.result?.shape as readonly number[],
        data: reply?.result?.data,
      };
      // A transport that pools reply buffers (AcceleratorClient.release) gets this one back once it is
      // decoded (no private copy: large results cost more in fresh pages than in the check itself).
      const release = () => (this.transport as { release?: (r: LinearReply) => void }).release?.(reply);
      const problem = prep.problem(result);
      const outcome = problem === '' ? prep.check(result.data as ResultData) : { ok: false, reason: problem };
      sample.verifyMs += now() - tv;
      if (!outcome.ok) {
        if (problem === '') release();
        sample.failures++;
        lastError = new TeeError('E_VERIFY', outcome.reason);
        lastKind = 'verify';
        continue;
      }
      sample.requests++;
      const value = use(result.data as ResultData);
      release();
      return { value, attempts: attempt };
    }
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    if (lastKind === 'network') {
      throw new TeeError(
        'E_NETWORK',
        `${where}: the accelerator failed twice (retried on a fresh connection): ${why}`,
        { cause: lastError },
      );
    }
    throw new TeeError(
      'E_VERIFY',
      `${where}: the accelerator's result was refused twice (retried on a fresh connection): ${why}`,
      { cause: lastError },
    );
  }

  private prepare(
    g: ProductGeometry,
    a: Tensor,
    b: Tensor,
    params: ProductParams,
    label: string | undefined,
    share?: ShareRole,
  ): Prepared[] {
    if (this.integrity !== 'exact') {
      // dy's bytes as they are: the first product asks the accelerator to keep them, the second to reuse.
      let shared: SharedA = {};
      if (share?.first === true) {
        share.slot.stored = true;
        shared = { hint: { key: share.slot.key, reuse: false } };
      } else if (share?.slot.stored === true) {
        shared = { hint: { key: share.slot.key, reuse: true } };
      }
      return [
        prepareFloat(
          g,
          a,
          b,
          params,
          this.weightHint(g, b.data),
          {
            verify: this.integrity === 'float',
            rng: this.rng,
            repetitions: this.repetitions ?? DEFAULT_REPETITIONS,
            vectors: this.floatVectors,
            slack: this.floatSlack,
            bound: this.floatBound,
          },
          shared,
        ),
      ];
    }
    const pad = this.padFor(g, b, label);
    if (pad !== null) return [this.exact(g, a.data, b.data, params, pad)];
    // Cut over the inner dimension when maxInnerLength asks for it or when no scale fits p (doubling the
    // number of chunks until every chunk fits, or failing when the dimension cannot be cut further).
    const units = innerUnits(g);
    let parts = Math.min(units, Math.max(1, Math.ceil(innerLength(g) / this.maxInnerLength)));
    let guessed = false;
    for (;;) {
      const chunks = parts === 1 ? null : innerChunks(g, a.data, b.data, params, parts);
      const geoms =
        chunks === null ? [g] : chunks.map((c) => productGeometry(g.op, c.aShape, c.bShape, c.params));
      if (parts < units && geoms.some((cg) => innerLength(cg) > this.maxInnerLength)) {
        parts = Math.min(units, parts * 2);
        continue;
      }
      const preps: Prepared[] = [];
      try {
        if (chunks === null) preps.push(this.prepareExactShared(g, a.data, b.data, params, share));
        else {
          for (const [j, c] of chunks.entries()) {
            preps.push(this.exact(geoms[j]!, c.a, c.b, c.params, null));
          }
        }
        return preps;
      } catch (e) {
        for (const p of preps) p.dispose();
        if (!(e instanceof QuantizationFitError) || parts >= units) throw e;
        // First a guess from the norms (one pass), then doubling until every chunk fits.
        const guess = guessed ? 0 : partsToFit(g, a.data, b.data, this.quant, P, this.field.outputHalf);
        guessed = true;
        parts = Math.min(units, Math.max(parts * 2, guess));
      }
    }
  }

  // The operand-cache hint for b: a forward's weights are stored under their key, a grad-input product's
  // weights reuse them (the same tensor, unchanged since its forward in a normal step; if not, the check
  // fails and the retry on a fresh connection sends them in full).
  private weightHint(g: ProductGeometry, w: Float32Array): CacheHint | undefined {
    if (!this.cacheWeights) return undefined;
    if (g.op === 'dense' || g.op === 'conv2d') {
      let e = this.weightKeys.get(w);
      if (e === undefined) {
        e = { key: this.takeKey() };
        this.weightKeys.set(w, e);
      }
      return { key: e.key, reuse: false };
    }
    if (g.op === 'denseGradInput' || g.op === 'conv2dGradInput') {
      const e = this.weightKeys.get(w);
      return e === undefined ? undefined : { key: e.key, reuse: true };
    }
    return undefined;
  }

  // An uncut exact product of a backward pair: the first quantizes dy and keeps its integers for the
  // second (and asks the accelerator to keep them); the second takes them as they are when its other
  // operand can be fitted to their scale, else quantizes dy afresh. Outside a pair: prepareExactCached.
  private prepareExactShared(
    g: ProductGeometry,
    a: Float32Array,
    b: Float32Array,
    params: ProductParams,
    share: ShareRole | undefined,
  ): Prepared {
    if (share === undefined) return this.prepareExactCached(g, a, b, params);
    const slot = share.slot;
    if (share.first) {
      const prep = this.prepareExactCached(g, a, b, params, {
        hint: { key: slot.key, reuse: false },
        keep: true,
      });
      slot.ints = prep.req.a.data as Int32Array;
      slot.bits = prep.trace.aBits!;
      slot.stored = true;
      return prep;
    }
    if (slot.ints !== undefined && slot.bits !== undefined) {
      try {
        return this.prepareExactCached(g, a, b, params, {
          hint: { key: slot.key, reuse: true },
          fixed: { data: slot.ints, bits: slot.bits },
        });
      } catch (e) {
        // No scale of the other operand fits dy's (a NaN fails again below, loudly).
        if (!(e instanceof RangeError)) throw e;
      }
    }
    return this.prepareExactCached(g, a, b, params);
  }

  // An uncut exact product with the operand-cache hint: a forward stores its quantized weights (and
  // remembers their scale); a grad-input product quantizes the same weights at that scale — the same
  // integers when they are unchanged — and reuses them, unless no scale of dy then fits p.
  private prepareExactCached(
    g: ProductGeometry,
    a: Float32Array,
    b: Float32Array,
    params: ProductParams,
    shared: SharedA = {},
  ): Prepared {
    const hint = this.weightHint(g, b);
    if (hint === undefined) return this.exact(g, a, b, params, null, undefined, shared);
    const entry = this.weightKeys.get(b)!;
    if (!hint.reuse) {
      const prep = this.exact(g, a, b, params, null, hint, shared);
      entry.bits = prep.trace.bBits;
      return prep;
    }
    if (entry.bits === undefined) return this.exact(g, a, b, params, null, undefined, shared);
    const bits = entry.bits;
    try {
      const fixed = {
        data: quantizeTensor(b, bits, 'nearest', { p: P, alloc: (n) => this.pool.take(n) }),
        bits,
      };
      return this.exact(g, a, b, params, { fixedB: fixed, pooled: true }, hint, shared);
    } catch (e) {
      // No fit at the forward's scale (or the weights changed so that they no longer fit it): quantize
      // afresh and send them in full; anything else (a NaN) fails there too.
      if (!(e instanceof RangeError)) throw e;
      return this.exact(g, a, b, params, null, undefined, shared);
    }
  }

  // One exact request (prepared-product.ts) with this instance's field, scales and randomness.
  private exact(
    g: ProductGeometry,
    a: Float32Array,
    b: Float32Array,
    params: ProductParams,
    pad: ExactPad | null,
    hint?: CacheHint,
    shared: SharedA = {},
  ): Prepared {
    return prepareExact(
      g,
      a,
      b,
      params,
      pad,
      hint,
      {
        field: this.field,
        quant: this.quant,
        rng: this.rng,
        pool: this.pool,
        ...(this.repetitions === undefined ? {} : { repetitions: this.repetitions }),
      },
      shared,
    );
  }

  // The pad for a blinded forward, with the weights fixed as the pad set expects; null without pads.
  private padFor(
    g: ProductGeometry,
    w: Tensor,
    label: string | undefined,
  ): { pad: { r: Int32Array; u: Int32Array }; fixedB: { data: Int32Array; bits: number } } | null {
    if (this.pads === undefined) return null;
    const where = label === undefined ? g.op : `${g.op} (${label})`;
    if (g.op !== 'dense' && g.op !== 'conv2d') {
      throw new TeeError(
        'E_STATE',
        `${where}: blinding pads cover inference only; backward products are refused`,
      );
    }
    const set = label === undefined ? undefined : this.pads(label);
    if (set === undefined) {
      throw new TeeError(
        'E_STATE',
        `${where}: no pad set for this layer (blinding is on: every forward must be blinded)`,
      );
    }
    const s = set.spec;
    const sameConv = !isConv(g) || (s.stride === g.stride && s.padding === g.padding);
    if (s.op !== g.op || !sameShape(s.inputShape, aShapeOf(g)) || !sameConv) {
      throw new TeeError(
        'E_STATE',
        `${where}: the pad set '${s.label}' was made for another product or input shape`,
      );
    }
    const wq = quantizeTensor(w.data, s.weightBits, 'nearest', { p: P });
    if (!set.matches(wq, s.weightBits)) {
      throw new TeeError('E_STATE', `${where}: the weights changed since pad set '${s.label}' was made`);
    }
    return { pad: set.take(), fixedB: { data: wq, bits: s.weightBits } };
  }
}

/** A labelled view of a RemoteLinearOps (same transport, stats and options). */
class LabelledRemoteOps implements LinearOps {
  readonly name: string;
  readonly writesOut = true;
  constructor(
    private readonly remote: RemoteLinearOps,
    private readonly label: string,
  ) {
    this.name = `${remote.name}[${label}]`;
  }
  dense(x: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    return this.remote.run('dense', x, w, {}, this.label, out);
  }
  denseGradInput(dy: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    return this.remote.run('denseGradInput', dy, w, {}, this.label, out);
  }
  denseGradWeight(dy: Tensor, x: Tensor, out?: Tensor): Promise<Tensor> {
    return this.remote.run('denseGradWeight', dy, x, {}, this.label, out);
  }
  conv2d(x: Tensor, w: Tensor, p: ConvParams, out?: Tensor): Promise<Tensor> {
    return this.remote.run('conv2d', x, w, conv(p), this.label, out);
  }
  conv2dGradInput(
    dy: Tensor,
    w: Tensor,
    p: ConvParams,
    inputHW: readonly [number, number],
    out?: Tensor,
  ): Promise<Tensor> {
    return this.remote.run(
      'conv2dGradInput',
      dy,
      w,
      { ...conv(p), inputHW: [inputHW[0], inputHW[1]] },
      this.label,
      out,
    );
  }
  conv2dGradWeight(dy: Tensor, x: Tensor, p: ConvParams, k: number, out?: Tensor): Promise<Tensor> {
    return this.remote.run('conv2dGradWeight', dy, x, { ...conv(p), k }, this.label, out);
  }
  denseBackward(dy: Tensor, w: Tensor, x: Tensor, outs: BackwardOuts = {}): Promise<[Tensor, Tensor]> {
    return this.remote.backwardPair(null, dy, w, x, this.label, outs);
  }
  conv2dBackward(
    dy: Tensor,
    w: Tensor,
    x: Tensor,
    p: ConvParams,
    k: number,
    outs: BackwardOuts = {},
  ): Promise<[Tensor, Tensor]> {
    return this.remote.backwardPair({ p, k }, dy, w, x, this.label, outs);
  }
}

// The trace of a product from the traces of its chunks: the smallest scales, the summed error bound
// (each chunk's bound already covers its own rounding to float32, which now happens once, on the sum;
// the float64 additions of n chunks add at most n·2^-53 relative, covered by the factor).
function mergeTraces(traces: readonly Partial<ProductTrace>[]): Partial<ProductTrace> {
  if (traces.length === 1) return { ...traces[0], ...(traces[0]!.aBits !== undefined ? { chunks: 1 } : {}) };
  let aBits = Number.POSITIVE_INFINITY;
  let bBits = Number.POSITIVE_INFINITY;
  let errorBound = 0;
  for (const t of traces) {
    aBits = Math.min(aBits, t.aBits ?? aBits);
    bBits = Math.min(bBits, t.bBits ?? bBits);
    errorBound += t.errorBound ?? 0;
  }
  return { aBits, bBits, errorBound: errorBound * (1 + traces.length * 2 ** -29), chunks: traces.length };
}

function conv(p: ConvParams): ProductParams {
  return { stride: p.stride, padding: p.padding };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A backward pair's dy: its cache key and, in exact mode, the integers the first product made of it. */
interface DyShare {
  readonly key: number;
  /** The first product's request carries dy under `key` (so the second may ask to reuse it). */
  stored: boolean;
  ints?: Int32Array;
  bits?: number;
}

/** Which product of a backward pair a call is. */
interface ShareRole {
  readonly slot: DyShare;
  readonly first: boolean;
}
