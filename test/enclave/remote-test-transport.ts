// An AcceleratorTransport that computes in this process, for testing RemoteLinearOps without sockets:
// f32 products on LocalLinearOps (the native kernels), modp products on the naive float64 reference of
// test/verify/modp-reference.ts, wide products (exact integers) on its plain float64 reference. It can lie
// like a hostile accelerator (flip an element, change a row, scale, replay an earlier result, wrong shape,
// out-of-range values, wrong dtype; for wide also add p to one element), on every call or only the
// first (so that the retry on a fresh connection succeeds), and drop calls like a broken network.
import { createHash } from 'node:crypto';
import { computeLinearGpu, openGpu } from '../../src/accelerator/gpu-linear.js';
import { nonInteger } from '../../src/accelerator/tamper.js';
import { TeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { callLinearOp, type LinearOps } from '../../src/kernels/linear-ops.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import type {
  AcceleratorTransport,
  LinearReply,
  LinearRequest,
  WireTensor,
} from '../../src/protocol/linear-request.js';
import { MODULUS_P, WIDE_RESULT_LIMIT } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { centered, halfModulus } from '../../src/verify/field.js';
import { floatReference, modpReference } from '../verify/modp-reference.js';

export const TAMPER_KINDS = ['flip', 'row', 'scale', 'replay', 'shape', 'range', 'dtype'] as const;
/**
 * Lies about wide results: the above, 'add-modulus' (p added to one element: the same residues mod p,
 * caught only modulo another prime) and 'non-integer' (one element a fraction, NaN, ±Infinity or beyond
 * 2^53, in turn: the client leaves wide values to the check). Both leave f32 and modp results honest.
 */
export const WIDE_TAMPER_KINDS = [...TAMPER_KINDS, 'add-modulus', 'non-integer'] as const;
export type TamperKind = (typeof WIDE_TAMPER_KINDS)[number];

export interface TestTransportOptions {
  readonly tamper?: TamperKind;
  /** Which calls lie: every one (default) or only the first of each product (the retry then succeeds). */
  readonly tamperCalls?: 'all' | 'first';
  /** Calls that fail with E_NETWORK: none (default), the first, or all. */
  readonly networkFailures?: 'none' | 'first' | 'all';
  /** f32 backend (default LocalLinearOps over the engine's kernels). */
  readonly ops?: LinearOps;
  /**
   * Compute every product (all ariths, p = 2^24 − 3) on the accelerator's GPU backend instead: its CPU
   * emulation (the same orchestration and kernel source the CUDA device runs).
   */
  readonly gpu?: 'emulated';
  readonly p?: number;
}

export class InProcessTransport implements AcceleratorTransport {
  calls = 0;
  reconnects = 0;
  closed = false;
  readonly requests: LinearRequest[] = [];
  private readonly opts: TestTransportOptions;
  private readonly ops: LinearOps;
  private readonly p: number;
  private readonly rng = new SeededRng(7);
  // Honest results of earlier calls, by op/arith/shape, with a digest of the operands they answered.
  private readonly previous = new Map<string, { sig: string; result: WireTensor }[]>();
  private tamperedOnce = false;
  private nonIntegers = 0;
  private droppedOnce = false;

  constructor(opts: TestTransportOptions = {}) {
    this.opts = opts;
    this.ops = opts.ops ?? new LocalLinearOps(kernels);
    this.p = opts.p ?? MODULUS_P;
  }

  async call(req: LinearRequest): Promise<LinearReply> {
    if (this.closed) throw new TeeError('E_NETWORK', 'transport closed');
    this.calls++;
    // A snapshot: the caller may wipe its buffers once the call has completed.
    this.requests.push({
      ...req,
      a: { shape: req.a.shape, data: req.a.data.slice() },
      b: { shape: req.b.shape, data: req.b.data.slice() },
    });
    const drop = this.opts.networkFailures ?? 'none';
    if (drop === 'all' || (drop === 'first' && !this.droppedOnce)) {
      this.droppedOnce = true;
      throw new TeeError('E_NETWORK', 'simulated connection drop');
    }
    const t0 = performance.now();
    const honest = await this.compute(req);
    const computeMs = performance.now() - t0;
    const key = `${req.op}/${req.arith}/${honest.shape.join('x')}`;
    const sig = signature(req);
    const earlier = this.previous.get(key) ?? [];
    const other = [...earlier].reverse().find((e) => e.sig !== sig)?.result;
    earlier.push({ sig, result: { shape: honest.shape, data: honest.data.slice() } });
    this.previous.set(key, earlier);
    let result = honest;
    const kind = this.opts.tamper;
    if (kind !== undefined && ((this.opts.tamperCalls ?? 'all') === 'all' || !this.tamperedOnce)) {
      this.tamperedOnce = true;
      result = this.tamperWith(kind, req, honest, other);
    }
    return {
      result,
      stats: {
        sendMs: 0,
        computeMs,
        receiveMs: 0,
        bytesSent: req.a.data.byteLength + req.b.data.byteLength,
        bytesReceived: result.data.byteLength,
      },
    };
  }

  /** Like AcceleratorClient.release: the reply's buffer may be reused; poisoned here to prove nobody reads it. */
  released = 0;
  release(reply: LinearReply): void {
    this.released++;
    reply.result.data.fill(-7);
  }

  async reconnect(): Promise<void> {
    this.reconnects++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async compute(req: LinearRequest): Promise<WireTensor> {
    if (this.opts.gpu !== undefined) {
      openGpu(this.opts.gpu);
      return computeLinearGpu(req);
    }
    const params = { stride: req.stride, padding: req.padding, inputHW: req.inputHW, k: req.k };
    // Plain float64 sums of int32 operands: exact while every partial sum stays below 2^53.
    if (req.arith === 'wide') return floatReference(req.op, req.a, req.b, params);
    if (req.arith === 'modp') {
      return modpReference(
        req.op,
        { shape: req.a.shape, data: req.a.data as Int32Array },
        { shape: req.b.shape, data: req.b.data as Int32Array },
        params,
        this.p,
      );
    }
    const a = new Tensor(req.a.shape, req.a.data as Float32Array);
    const b = new Tensor(req.b.shape, req.b.data as Float32Array);
    const y = await callLinearOp(this.ops, req.op, a, b, req);
    return { shape: [...y.shape], data: y.data };
  }

  private tamperWith(
    kind: TamperKind,
    req: LinearRequest,
    honest: WireTensor,
    before: WireTensor | undefined,
  ): WireTensor {
    const modp = req.arith === 'modp';
    const wide = req.arith === 'wide';
    const p = this.p;
    const y = honest.data.slice();
    const n = y.length;
    // A change well above float32 rounding, and a non-zero change mod p (wide: towards zero, by less
    // than p, so another integer of no larger magnitude).
    let big = 1;
    for (let i = 0; i < n; i++) big = Math.max(big, Math.abs(y[i]!));
    const bump = (v: number): number => {
      if (modp) return centered(v + 1 + this.rng.nextInt(p - 1), p);
      if (wide) return v - Math.sign(v || 1) * (1 + this.rng.nextInt(p - 1));
      return v + 0.01 * big;
    };
    switch (kind) {
      case 'flip': {
        const i = this.rng.nextInt(n);
        y[i] = bump(y[i]!);
        return { shape: honest.shape, data: y };
      }
      case 'row': {
        const last = honest.shape[honest.shape.length - 1]!;
        const rows = n / last;
        const r = this.rng.nextInt(rows);
        for (let i = r * last; i < (r + 1) * last; i++) y[i] = bump(y[i]!);
        return { shape: honest.shape, data: y };
      }
      case 'scale': {
        for (let i = 0; i < n; i++) y[i] = modp ? centered(2 * y[i]!, p) : 2 * y[i]!;
        return { shape: honest.shape, data: y };
      }
      case 'add-modulus': {
        if (!wide) return honest;
        const i = this.rng.nextInt(n);
        y[i]! += y[i]! + p < WIDE_RESULT_LIMIT ? p : -p;
        return { shape: honest.shape, data: y };
      }
      case 'non-integer': {
        if (!wide) return honest;
        const i = this.rng.nextInt(n);
        y[i] = nonInteger(y[i]!, this.nonIntegers++);
        return { shape: honest.shape, data: y };
      }
      case 'replay':
        // The (correct) result of an earlier, different product of the same op and shape; a flip when none.
        return before ?? this.tamperWith('flip', req, honest, undefined);
      case 'shape': {
        const shape = [...honest.shape];
        shape[shape.length - 1]! += 1;
        const m = n + n / honest.shape[honest.shape.length - 1]!;
        const data = modp ? new Int32Array(m) : wide ? new Float64Array(m) : new Float32Array(m);
        return { shape, data };
      }
      case 'range': {
        const i = this.rng.nextInt(n);
        // wide: the largest integer the wire accepts (|y| < 2^53), far above any honest bound.
        y[i] = modp ? halfModulus(p) + 1 : wide ? WIDE_RESULT_LIMIT - 1 : Number.NaN;
        return { shape: honest.shape, data: y };
      }
      case 'dtype':
        return { shape: honest.shape, data: modp || wide ? Float32Array.from(y) : Int32Array.from(y) };
    }
  }
}

function signature(req: LinearRequest): string {
  const h = createHash('sha256');
  for (const t of [req.a, req.b])
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex');
}
