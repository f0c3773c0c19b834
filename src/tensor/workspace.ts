// Reusable output buffers of one layer: one tensor per named slot, handed out again on every call while
// the slot's element count stays the same, reallocated when it changes. A fresh Float32Array for every
// activation and gradient of every step costs first-touch page faults and GC pauses; a reused one costs
// neither. Contents are NOT zeroed: whatever the previous user left is there until overwritten. A slot
// may be taken again only when nothing from its previous use still reads it (the layer's contract).
import { numel, type Shape, Tensor } from './tensor.js';

// Every Float32Array a Workspace ever handed out: views (reshape) share it, so they are recognised too.
const workspaceData = new WeakSet<Float32Array>();

export class Workspace {
  private readonly slots = new Map<string, Tensor>();

  /** A tensor of `shape` for `slot`: the slot's buffer when the element count matches, else a new one. */
  take(slot: string, shape: Shape): Tensor {
    const t = this.slots.get(slot);
    if (t !== undefined && t.size === numel(shape)) {
      if (sameShape(t.shape, shape)) return t;
      const view = new Tensor(shape, t.data);
      this.slots.set(slot, view);
      return view;
    }
    const fresh = new Tensor(shape);
    workspaceData.add(fresh.data);
    this.slots.set(slot, fresh);
    return fresh;
  }

  /**
   * A tensor of `shape` over the start of `slot`'s buffer, which grows to the largest size asked for and
   * never shrinks: one scratch buffer that several users take in turn, each done with it before the next.
   */
  takeAtLeast(slot: string, shape: Shape): Tensor {
    const n = numel(shape);
    let t = this.slots.get(slot);
    if (t === undefined || t.size < n) {
      t = new Tensor([n]);
      workspaceData.add(t.data);
      this.slots.set(slot, t);
    }
    if (t.size === n) return sameShape(t.shape, shape) ? t : new Tensor(shape, t.data);
    const view = t.data.subarray(0, n);
    workspaceData.add(view);
    return new Tensor(shape, view);
  }

  /** Like take, for a small Float32Array of `n` elements (per-channel statistics). */
  takeArray(slot: string, n: number): Float32Array {
    return this.take(slot, [n]).data;
  }

  /** Forgets every slot (the buffers go when nothing else refers to them). */
  clear(): void {
    this.slots.clear();
  }

  /** Bytes held by the slots. */
  get bytes(): number {
    let b = 0;
    for (const t of this.slots.values()) b += t.data.byteLength;
    return b;
  }
}

/** Whether `t`'s data belongs to a Workspace (and so is overwritten by that layer's next call). */
export function isWorkspaceTensor(t: Tensor): boolean {
  return workspaceData.has(t.data);
}

/** `t` when the caller may keep it, else a copy: a workspace tensor is overwritten by the next step. */
export function detached(t: Tensor): Tensor {
  return isWorkspaceTensor(t) ? t.clone() : t;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
