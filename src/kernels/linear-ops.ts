// The seam of DESIGN.md: the six linear products that may leave the enclave. Layers never do linear
// algebra themselves; they await a LinearOps. LocalLinearOps (local-linear-ops.ts) runs them on the
// native kernels; the split protocol's RemoteLinearOps runs them on an untrusted accelerator.
// `out` (optional) offers a buffer of the result's shape to write into (a layer's reused workspace);
// an implementation that writes there returns `out`, one that receives its result elsewhere (remote)
// may ignore it and return a new tensor. Callers use the returned tensor either way.
import type { Tensor } from '../tensor/tensor.js';

export interface ConvParams {
  readonly stride: number;
  readonly padding: number;
}

export interface LinearOps {
  readonly name: string;
  /**
   * True when the results are written into an offered `out` (local ops). Layers offer buffers only
   * then, so that ops which ignore `out` (remote) do not make them hold buffers that stay unused.
   */
  readonly writesOut?: boolean;
  // x [N,I], w [O,I] → y [N,O] = x·wᵀ
  dense(x: Tensor, w: Tensor, out?: Tensor): Promise<Tensor>;
  // dy [N,O], w [O,I] → dx [N,I] = dy·w
  denseGradInput(dy: Tensor, w: Tensor, out?: Tensor): Promise<Tensor>;
  // dy [N,O], x [N,I] → dw [O,I] = dyᵀ·x
  denseGradWeight(dy: Tensor, x: Tensor, out?: Tensor): Promise<Tensor>;
  // x [N,C,H,W], w [O,C,k,k] → y [N,O,H',W']
  conv2d(x: Tensor, w: Tensor, p: ConvParams, out?: Tensor): Promise<Tensor>;
  // dy [N,O,H',W'], w [O,C,k,k] → dx [N,C,H,W]; inputHW = [H,W] resolves the stride ambiguity
  conv2dGradInput(
    dy: Tensor,
    w: Tensor,
    p: ConvParams,
    inputHW: readonly [number, number],
    out?: Tensor,
  ): Promise<Tensor>;
  // dy [N,O,H',W'], x [N,C,H,W] → dw [O,C,k,k]
  conv2dGradWeight(dy: Tensor, x: Tensor, p: ConvParams, k: number, out?: Tensor): Promise<Tensor>;
  /**
   * Optional: a Linear layer's two backward products of one dy at once — [denseGradInput(dy, w),
   * denseGradWeight(dy, x)], the same results as the two calls — so that ops which send their operands
   * elsewhere (RemoteLinearOps) send dy once. Layers call it when present.
   */
  denseBackward?(dy: Tensor, w: Tensor, x: Tensor, outs?: BackwardOuts): Promise<[Tensor, Tensor]>;
  /** Optional: the same for a Conv2d layer: [conv2dGradInput(dy, w, …), conv2dGradWeight(dy, x, …)]. */
  conv2dBackward?(
    dy: Tensor,
    w: Tensor,
    x: Tensor,
    p: ConvParams,
    k: number,
    outs?: BackwardOuts,
  ): Promise<[Tensor, Tensor]>;
}

/** Buffers offered for a backward pair's results (as `out` of the single products). */
export interface BackwardOuts {
  readonly dx?: Tensor;
  readonly dw?: Tensor;
}

/** The six products by name (the names the wire protocol and the checks use). */
export type LinearOpKey =
  | 'dense'
  | 'denseGradInput'
  | 'denseGradWeight'
  | 'conv2d'
  | 'conv2dGradInput'
  | 'conv2dGradWeight';

/** What a product held by name needs beyond its operands: conv params, grad-input's input size, grad-weight's k. */
export interface LinearCallParams {
  readonly stride?: number;
  readonly padding?: number;
  readonly inputHW?: readonly [number, number];
  readonly k?: number;
}

/** Calls the product `op` of `ops`: the one dispatch for code that holds a product by name. */
export function callLinearOp(
  ops: LinearOps,
  op: LinearOpKey,
  a: Tensor,
  b: Tensor,
  params: LinearCallParams = {},
  out?: Tensor,
): Promise<Tensor> {
  const p = { stride: params.stride ?? 1, padding: params.padding ?? 0 };
  switch (op) {
    case 'dense':
      return ops.dense(a, b, out);
    case 'denseGradInput':
      return ops.denseGradInput(a, b, out);
    case 'denseGradWeight':
      return ops.denseGradWeight(a, b, out);
    case 'conv2d':
      return ops.conv2d(a, b, p, out);
    case 'conv2dGradInput':
      if (params.inputHW === undefined) throw new RangeError('conv2dGradInput needs inputHW');
      return ops.conv2dGradInput(a, b, p, params.inputHW, out);
    case 'conv2dGradWeight':
      if (params.k === undefined) throw new RangeError('conv2dGradWeight needs k');
      return ops.conv2dGradWeight(a, b, p, params.k, out);
  }
}
