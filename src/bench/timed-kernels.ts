// A Kernels wrapper that times every call, by method and by shape (conv geometry, GEMM m×n×k), for
// `bench profile`. Hand it to a model, its loss and its optimizer instead of the engine's kernels.
import { performance } from 'node:perf_hooks';
import type { ConvGeom, Kernels } from '../kernels/api.js';

export interface CallStats {
  calls: number;
  ms: number;
}

export interface TimedKernels {
  readonly kernels: Kernels;
  /** By method name. */
  readonly byMethod: Map<string, CallStats>;
  /** By method and shape: `conv2dForward n4 c64 32×32 o64 k3 s1 p1`, `sgemm NT 4×4096×25088`. */
  readonly byShape: Map<string, CallStats & { method: string; geom?: ConvGeom }>;
  reset(): void;
}

const CONV = new Set(['conv2dForward', 'conv2dBackwardInput', 'conv2dBackwardWeight']);

export function convKey(g: ConvGeom): string {
  return `n${g.n} c${g.c} ${g.h}×${g.w} o${g.o} k${g.k} s${g.stride} p${g.padding}`;
}

function shapeKey(method: string, args: unknown[]): { key: string; geom?: ConvGeom } | null {
  if (CONV.has(method)) {
    const g = args[0] as ConvGeom;
    return { key: `${method} ${convKey(g)}`, geom: { ...g } };
  }
  if (method === 'sgemm' || method === 'dgemm') {
    const [tA, tB, m, n, k] = args as [boolean, boolean, number, number, number];
    return { key: `${method} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${m}×${n}×${k}` };
  }
  return null;
}

function add<T extends CallStats>(map: Map<string, T>, key: string, ms: number, init: () => T): void {
  const s = map.get(key) ?? map.set(key, init()).get(key)!;
  s.calls++;
  s.ms += ms;
}

export function timedKernels(inner: Kernels): TimedKernels {
  const byMethod = new Map<string, CallStats>();
  const byShape = new Map<string, CallStats & { method: string; geom?: ConvGeom }>();
  const kernels = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string' || prop === 'setThreads' || prop === 'info') {
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const r = Reflect.apply(v, target, args);
        const ms = performance.now() - t0;
        add(byMethod, prop, ms, () => ({ calls: 0, ms: 0 }));
        const s = shapeKey(prop, args);
        if (s) {
          add(byShape, s.key, ms, () => ({
            calls: 0,
            ms: 0,
            method: prop,
            ...(s.geom ? { geom: s.geom } : {}),
          }));
        }
        return r;
      };
    },
  });
  return {
    kernels,
    byMethod,
    byShape,
    reset() {
      byMethod.clear();
      byShape.clear();
    },
  };
}
