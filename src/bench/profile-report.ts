// The JSON `bench profile` writes: our step by phase, kernel method and shape; PyTorch's by phase and
// aten op; both by category; and every convolution of the model timed alone on both sides.
import type { machineInfo } from './machine.js';
import type { ConvPass } from './workloads.js';

export const PHASES = ['zeroGrad', 'forward', 'loss', 'backward', 'step'] as const;
export type Phase = (typeof PHASES)[number];

export interface ConvLine {
  readonly shape: string;
  readonly pass: ConvPass;
  readonly callsPerStep: number;
  /** Our ms per call inside the step. */
  readonly oursInStepMs: number;
  readonly oursAloneMs: number;
  readonly torchAloneMs: number | null;
  /** (ours alone − torch alone) × calls per step: what this kernel costs us per step. */
  readonly lostMsPerStep: number | null;
}

export interface ProfileReport {
  readonly kind: 'tee-offload/bench-profile';
  readonly version: 1;
  readonly spec: {
    model: string;
    batch: number;
    size: number;
    numClasses: number;
    steps: number;
    threads: number;
  };
  readonly machine: ReturnType<typeof machineInfo>;
  readonly ours: {
    readonly stepMs: number;
    readonly phasesMs: Record<Phase, number>;
    readonly outsideKernelsMs: number;
    /** Main-thread GC pauses per step (part of outsideKernelsMs). */
    readonly gcMs: number;
    /** Per step, by kind (minor = scavenge, major = mark-compact). */
    readonly gcKinds: Record<string, { count: number; ms: number }>;
    readonly methods: { method: string; callsPerStep: number; msPerStep: number }[];
    readonly shapes: { shape: string; callsPerStep: number; msPerStep: number }[];
  };
  readonly torch: {
    readonly stepMs: number;
    readonly phasesMs: Record<Phase, number>;
    readonly ops: { name: string; selfMs: number; calls: number }[];
  } | null;
  readonly categories: { category: string; oursMs: number; torchMs: number | null }[];
  readonly convs: ConvLine[];
}
