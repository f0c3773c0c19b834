// Base of every layer: a forward/backward pair plus named parameters, buffers and children, with
// PyTorch's naming (`layer1.0.bn1.running_mean`). forward keeps what backward needs in private fields;
// backward(dy) returns dx and adds (+=) into each parameter's grad (addGrad); the optimizer zeroes grads.
import type { StateEntry } from '../tensor/state-entry.js';
import { type Shape, Tensor } from '../tensor/tensor.js';

export type { StateEntry } from '../tensor/state-entry.js';

export class Parameter {
  readonly value: Tensor;
  private readonly gradBuf: Float32Array;
  private gradView: Tensor | undefined;
  // Set by zeroGrad: the gradient is zero but its buffer not yet cleared. The first gradient added
  // afterwards overwrites the buffer (a layer may even have its product write straight into it:
  // freshGradTarget), and a read before that clears it — PyTorch's set_to_none without the None: no pass
  // of zeros and no add over every weight each step.
  private cleared = false;

  constructor(value: Tensor) {
    this.value = value;
    this.gradBuf = new Float32Array(value.size);
  }
  get shape(): Shape {
    return this.value.shape;
  }
  get data(): Float32Array {
    return this.value.data;
  }
  /** The accumulated gradient: zeros after zeroGrad until a backward adds to it. */
  get grad(): Float32Array {
    if (this.cleared) {
      this.gradBuf.fill(0);
      this.cleared = false;
    }
    return this.gradBuf;
  }
  zeroGrad(): void {
    this.cleared = true;
  }
  /**
   * The gradient's own buffer as a tensor of the parameter's shape, for a product that writes a complete
   * gradient into it — only while nothing has been added since zeroGrad (else undefined). Hand the result
   * to addGrad afterwards; until then the gradient still reads as zeros.
   */
  freshGradTarget(): Tensor | undefined {
    if (!this.cleared) return undefined;
    this.gradView ??= new Tensor(this.value.shape, this.gradBuf);
    return this.gradView;
  }
  /** grad += g, or grad = g while the gradient is cleared (g may be the buffer from freshGradTarget). */
  addGrad(g: Float32Array, k: { axpy(a: number, x: Float32Array, y: Float32Array): void }): void {
    if (this.cleared) {
      if (g !== this.gradBuf) this.gradBuf.set(g);
      this.cleared = false;
    } else {
      if (g === this.gradBuf) throw new Error('Parameter.addGrad: a fresh gradient target written twice');
      k.axpy(1, g, this.gradBuf);
    }
  }
}

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Parameter>();
  private readonly ownBuffers = new Map<
    string,
    { shape: Shape; dtype: 'F32' | 'I64'; data: Float32Array | BigInt64Array }
  >();
  private readonly children = new Map<string, Module>();

  abstract forward(x: Tensor): Promise<Tensor>;
  abstract backward(dy: Tensor): Promise<Tensor>;

  protected registerParameter(name: string, value: Tensor): Parameter {
    const p = new Parameter(value);
    this.ownParams.set(name, p);
    return p;
  }

  protected registerBuffer(name: string, shape: Shape, data: Float32Array | BigInt64Array): void {
    this.ownBuffers.set(name, { shape, dtype: data instanceof BigInt64Array ? 'I64' : 'F32', data });
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Parameters and buffers in registration order, with torchvision names. */
  stateEntries(prefix = ''): StateEntry[] {
    const out: StateEntry[] = [];
    for (const [n, p] of this.ownParams) {
      out.push({ name: prefix + n, shape: p.shape, dtype: 'F32', data: p.data, kind: 'parameter' });
    }
    for (const [n, b] of this.ownBuffers) {
      out.push({ name: prefix + n, shape: b.shape, dtype: b.dtype, data: b.data, kind: 'buffer' });
    }
    for (const [n, m] of this.children) out.push(...m.stateEntries(`${prefix}${n}.`));
    return out;
  }

  train(mode = true): this {
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }
}
