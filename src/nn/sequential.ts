// Sequential, as torch.nn.Sequential: children named '0', '1', … run in order; backward in reverse.
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => {
      this.registerModule(String(i), m);
    });
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Module {
    const m = this.layers[i];
    if (m === undefined)
      throw new RangeError(`Sequential index ${i} out of range [0, ${this.layers.length})`);
    return m;
  }

  async forward(x: Tensor): Promise<Tensor> {
    for (const m of this.layers) x = await m.forward(x);
    return x;
  }

  async backward(dy: Tensor): Promise<Tensor> {
    for (let i = this.layers.length - 1; i >= 0; i--) dy = await this.layers[i]!.backward(dy);
    return dy;
  }
}
