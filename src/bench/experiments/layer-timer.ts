// Times every layer of a model from outside: each Layer instance's forward and backward are wrapped
// (own properties shadowing the class methods; src/nn is untouched), and their SELF time (wall time less
// that of the layers they call) is summed under the layer's torchvision path, the same label
// useRemoteLinearOps gives its products. Layers run one inside another, never side by side, so a stack
// of open calls gives each its own time. A composite layer (ResNet's BasicBlock: the second ReLU and the
// residual addition) also gets its kernels wrapped so that its ReLU time is told apart. restore() undoes it.
import { Layer } from '../../nn/layer.js';
import type { Module } from '../../nn/module.js';
import type { BreakdownKind } from './schema.js';

export interface LayerTime {
  readonly layer: string;
  /** The class name (Conv2d, BatchNorm2d, …). */
  readonly type: string;
  /** Self time: forward + backward, less the layers called from them. */
  ms: number;
  /** Of ms, the time in reluForward/reluBackward called by the layer itself (composite layers). */
  reluMs: number;
  readonly composite: boolean;
}

export interface LayerTimer {
  /** In model order. */
  readonly layers: readonly LayerTime[];
  reset(): void;
  restore(): void;
}

const KIND_OF_TYPE: Record<string, BreakdownKind> = {
  Conv2d: 'conv',
  Linear: 'linear',
  BatchNorm2d: 'batchnorm',
  ReLU: 'relu',
  MaxPool2d: 'pooling',
  AdaptiveAvgPool2d: 'pooling',
  AvgPool2d: 'pooling',
};

/** The breakdown kind of a layer class (Flatten, Dropout and anything unknown: 'other'). */
export function kindOfLayerType(type: string): BreakdownKind {
  return KIND_OF_TYPE[type] ?? 'other';
}

export function timeLayers(model: Module, rootLabel = 'model'): LayerTimer {
  const layers: LayerTime[] = [];
  const undo: (() => void)[] = [];
  // Child time of each open call: its own layer's time excludes it.
  const open: number[] = [];
  const visit = (m: Module, path: string): void => {
    if (m instanceof Layer) {
      const composite = m.namedChildren().length > 0;
      const entry: LayerTime = {
        layer: path === '' ? rootLabel : path,
        type: m.constructor.name,
        ms: 0,
        reluMs: 0,
        composite,
      };
      layers.push(entry);
      const target = m as unknown as Record<'forward' | 'backward', (t: unknown) => Promise<unknown>>;
      for (const method of ['forward', 'backward'] as const) {
        const inner = target[method].bind(m);
        target[method] = async (t: unknown) => {
          const t0 = performance.now();
          open.push(0);
          try {
            return await inner(t);
          } finally {
            const wall = performance.now() - t0;
            const children = open.pop()!;
            entry.ms += Math.max(0, wall - children);
            if (open.length > 0) open[open.length - 1]! += wall;
          }
        };
        undo.push(() => {
          delete (target as Partial<typeof target>)[method];
        });
      }
      if (composite) {
        const kernels = m.kernels;
        m.kernels = new Proxy(kernels, {
          get(t, prop, receiver) {
            const v = Reflect.get(t, prop, receiver);
            if (typeof v !== 'function') return v;
            if (prop !== 'reluForward' && prop !== 'reluBackward') return v.bind(t);
            return (...args: unknown[]) => {
              const t0 = performance.now();
              try {
                return Reflect.apply(v, t, args);
              } finally {
                entry.reluMs += performance.now() - t0;
              }
            };
          },
        });
        undo.push(() => {
          m.kernels = kernels;
        });
      }
    }
    for (const [name, child] of m.namedChildren()) visit(child, path === '' ? name : `${path}.${name}`);
  };
  visit(model, '');
  return {
    layers,
    reset() {
      for (const l of layers) {
        l.ms = 0;
        l.reluMs = 0;
      }
    },
    restore() {
      for (const u of undo) u();
    },
  };
}
