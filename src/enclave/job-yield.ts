// LinearOps that hands the event loop back now and then. In `enclave` mode every product runs on the
// native kernels and resolves at once, so a training job would never let the trusted process see a
// signal (graceful shutdown), a client that went away, or a queued client's handshake until the job
// ended. This wrapper awaits a macrotask before a product when `sliceMs` passed since the last one;
// results are the inner ops' own (bit for bit); an offered `out` buffer is passed on.
import type { ConvParams, LinearOps } from '../kernels/linear-ops.js';
import type { Tensor } from '../tensor/tensor.js';

export const DEFAULT_SLICE_MS = 50;

export class YieldingLinearOps implements LinearOps {
  readonly name: string;
  readonly writesOut: boolean;
  private last = performance.now();

  constructor(
    private readonly inner: LinearOps,
    private readonly sliceMs = DEFAULT_SLICE_MS,
  ) {
    this.name = inner.name;
    this.writesOut = inner.writesOut === true;
  }

  private async turn(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }

  async dense(x: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    await this.turn();
    return this.inner.dense(x, w, out);
  }

  async denseGradInput(dy: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    await this.turn();
    return this.inner.denseGradInput(dy, w, out);
  }

  async denseGradWeight(dy: Tensor, x: Tensor, out?: Tensor): Promise<Tensor> {
    await this.turn();
    return this.inner.denseGradWeight(dy, x, out);
  }

  async conv2d(x: Tensor, w: Tensor, p: ConvParams, out?: Tensor): Promise<Tensor> {
    await this.turn();
    return this.inner.conv2d(x, w, p, out);
  }

  async conv2dGradInput(
    dy: Tensor,
    w: Tensor,
    p: ConvParams,
    inputHW: readonly [number, number],
    out?: Tensor,
  ): Promise<Tensor> {
    await this.turn();
    return this.inner.conv2dGradInput(dy, w, p, inputHW, out);
  }

  async conv2dGradWeight(dy: Tensor, x: Tensor, p: ConvParams, k: number, out?: Tensor): Promise<Tensor> {
    await this.turn();
    return this.inner.conv2dGradWeight(dy, x, p, k, out);
  }
}
