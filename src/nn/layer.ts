// A leaf layer: a Module that owns a backend (kernels + LinearOps) and the activations its backward
// needs. backward releases them; releaseSaved() drops them without a backward (eval, predict).
// With buffer reuse on (enableBufferReuse), a layer writes its outputs and gradients into its own
// Workspace, so a tensor it returned stays valid only until its next forward (outputs) or backward
// (gradients): within one step every layer runs forward and backward once, so nothing is overwritten
// while it is still read. Off by default: then every call returns fresh tensors.
import type { Kernels } from '../kernels/api.js';
import type { BackwardOuts, LinearOps } from '../kernels/linear-ops.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { Workspace } from '../tensor/workspace.js';
import { type BackendOptions, resolveBackend } from './backend.js';
import { Module, type Parameter } from './module.js';

export abstract class Layer extends Module {
  kernels: Kernels;
  linearOps: LinearOps;
  private reuse = false;
  private readonly workspace = new Workspace();
  // Shared by every layer of the model (set by enableBufferReuse): results consumed at once.
  private scratch: Workspace | null = null;

  constructor(opts: BackendOptions = {}) {
    super();
    const b = resolveBackend(opts);
    this.kernels = b.kernels;
    this.linearOps = b.linearOps;
  }

  /** Whether outputs and gradients go into reused buffers (see the top of this file). */
  get reuseBuffers(): boolean {
    return this.reuse;
  }

  set reuseBuffers(on: boolean) {
    this.reuse = on;
    if (!on) {
      this.workspace.clear();
      this.scratch = null;
    }
  }

  /**
   * The tensor a call writes its result `slot` into: the slot's reused buffer (not zeroed) with reuse
   * on, else a fresh zeroed tensor. Only for results the kernel overwrites entirely.
   */
  protected output(slot: string, shape: Shape): Tensor {
    return this.reuse ? this.workspace.take(slot, shape) : new Tensor(shape);
  }

  /**
   * Like outputHint, for a result used up before this call returns (a weight gradient added into a
   * `grad` that already holds one, see gradHint): a view of the model's one shared scratch buffer, so
   * that the model holds one buffer the size of its largest weight instead of one per layer. Layers of
   * a model run one at a time, so no two use it at once.
   */
  protected scratchHint(shape: Shape): Tensor | undefined {
    if (!this.reuse || this.linearOps.writesOut !== true) return undefined;
    this.scratch ??= new Workspace();
    return this.scratch.takeAtLeast('scratch', shape);
  }

  /**
   * Where the weight-gradient product of `p` goes: straight into p's gradient buffer when nothing was
   * added to it since zeroGrad and the linear ops write into what they are given (no zeros, no add, no
   * scratch), else the shared scratch (scratchHint). The result goes to p.addGrad either way.
   */
  protected gradHint(p: Parameter): Tensor | undefined {
    if (this.reuse && this.linearOps.writesOut === true) {
      const direct = p.freshGradTarget();
      if (direct !== undefined) return direct;
    }
    return this.scratchHint(p.shape);
  }

  /** Used by enableBufferReuse: the scratch Workspace of the model this layer belongs to. */
  shareScratch(ws: Workspace): void {
    this.scratch = ws;
  }

  /** The model's shared scratch Workspace, once reuse is on (for heldBufferBytes). */
  get sharedScratch(): Workspace | null {
    return this.scratch;
  }

  /** Bytes of the buffers this layer itself keeps across calls (its Workspace; MaxPool adds its argmax). */
  get heldBytes(): number {
    return this.workspace.bytes;
  }

  /** Like output, for a small per-channel array. */
  protected outputArray(slot: string, n: number): Float32Array {
    return this.reuse ? this.workspace.takeArray(slot, n) : new Float32Array(n);
  }

  /**
   * The buffer to offer the LinearOps for result `slot`: undefined with reuse off, or when the ops do
   * not write into offered buffers (remote: the result arrives in a buffer of its own).
   */
  protected outputHint(slot: string, shape: Shape): Tensor | undefined {
    return this.reuse && this.linearOps.writesOut === true ? this.workspace.take(slot, shape) : undefined;
  }

  /** Drops whatever forward kept for backward. */
  abstract releaseSaved(): void;
}

/** Every module of the tree, depth first, the root included. */
export function modulesOf(root: Module): Module[] {
  const out: Module[] = [root];
  for (const [, m] of root.namedChildren()) out.push(...modulesOf(m));
  return out;
}

/** Routes every linear product of the model through `ops` (e.g. the split protocol's remote ops). */
export function setLinearOps(root: Module, ops: LinearOps): void {
  for (const m of modulesOf(root)) if (m instanceof Layer) m.linearOps = ops;
}

/** Runs the model's non-linear work on `kernels` (the linear products stay on their LinearOps). */
export function setKernels(root: Module, kernels: Kernels): void {
  for (const m of modulesOf(root)) if (m instanceof Layer) m.kernels = kernels;
}

/**
 * Turns buffer reuse on (or off) for every layer of the model: each layer then keeps one buffer per
 * output and gradient across steps instead of allocating new ones. The tensors root.forward and
 * root.backward return are then overwritten by the next step: copy what must outlive it (`detached`).
 */
export function enableBufferReuse(root: Module, on = true): void {
  const layers = modulesOf(root).filter((m): m is Layer => m instanceof Layer);
  if (layers.every((l) => l.reuseBuffers === on)) return;
  const scratch = new Workspace();
  for (const l of layers) {
    l.reuseBuffers = on;
    if (on) l.shareScratch(scratch);
  }
}

/**
 * Bytes of every buffer the model's layers keep between steps: each layer's own (outputs, input
 * gradients, per-channel statistics, argmax) and the shared weight-gradient scratch, counted once (only
 * allocated when gradients accumulate over backwards without zeroGrad: gradHint).
 * What the enclave-size estimate's reuse items stand for (src/gramine/enclave-size.ts).
 */
export function heldBufferBytes(root: Module): number {
  const scratch = new Set<Workspace>();
  let bytes = 0;
  for (const m of modulesOf(root)) {
    if (!(m instanceof Layer)) continue;
    bytes += m.heldBytes;
    if (m.sharedScratch !== null) scratch.add(m.sharedScratch);
  }
  for (const s of scratch) bytes += s.bytes;
  return bytes;
}

/** Drops every saved activation of the model (after an eval forward, or an abandoned step). */
export function releaseActivations(root: Module): void {
  for (const m of modulesOf(root)) if (m instanceof Layer) m.releaseSaved();
}

/** The buffers offered to a backward pair (LinearOps.denseBackward / conv2dBackward), those that exist. */
export function outs(dx: Tensor | undefined, dw: Tensor | undefined): BackwardOuts {
  return { ...(dx === undefined ? {} : { dx }), ...(dw === undefined ? {} : { dw }) };
}
