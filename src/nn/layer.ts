// A leaf layer: a Module that owns a backend (kernels + LinearOps) and the activations its backward
// needs. backward releases them; releaseSaved() drops them without a backward (eval, predict).
import type { Kernels } from '../kernels/api.js';
import type { LinearOps } from '../kernels/linear-ops.js';
import { type BackendOptions, resolveBackend } from './backend.js';
import { Module } from './module.js';

export abstract class Layer extends Module {
  kernels: Kernels;
  linearOps: LinearOps;

  constructor(opts: BackendOptions = {}) {
    super();
    const b = resolveBackend(opts);
    this.kernels = b.kernels;
    this.linearOps = b.linearOps;
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

/** Drops every saved activation of the model (after an eval forward, or an abandoned step). */
export function releaseActivations(root: Module): void {
  for (const m of modulesOf(root)) if (m instanceof Layer) m.releaseSaved();
}
