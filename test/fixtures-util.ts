// Loads the PyTorch golden fixtures (../shared/fixtures from the repository root, or TEE_OFFLOAD_FIXTURES)
// and compares results with the tolerances of the fixtures' README. A missing fixtures directory fails
// loudly: CI has it, and a silently skipped golden test proves nothing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { SafeTensor } from '../src/io/safe-tensor.js';
import { toBigInt64, toFloat32, toInt32 } from '../src/io/safe-tensor.js';
import { readSafetensorsFile } from '../src/io/safetensors.js';
import { Tensor } from '../src/tensor/tensor.js';

export const FIXTURES_DIR = resolve(
  process.env.TEE_OFFLOAD_FIXTURES ?? join(process.cwd(), '..', 'shared', 'fixtures'),
);

function requireDir(dir: string): string {
  if (!existsSync(dir)) {
    throw new Error(`fixtures not found at ${dir}: set TEE_OFFLOAD_FIXTURES or check out ../shared/fixtures`);
  }
  return dir;
}

/** The .safetensors files of a fixtures subdirectory ('layers', 'models'), sorted. */
export function fixtureFiles(sub: string): string[] {
  const dir = requireDir(join(FIXTURES_DIR, sub));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()
    .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no .safetensors fixtures in ${dir}`);
  return files;
}

export function fixturePath(...parts: string[]): string {
  const p = join(FIXTURES_DIR, ...parts);
  if (!existsSync(p)) throw new Error(`fixture not found: ${p}`);
  return p;
}

export class Fixture {
  readonly name: string;
  readonly meta: Readonly<Record<string, string>>;
  private readonly tensors: Map<string, SafeTensor>;

  constructor(path: string) {
    const c = readSafetensorsFile(path);
    this.name = basename(path, '.safetensors');
    this.meta = c.metadata;
    this.tensors = c.tensors;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  private get(name: string): SafeTensor {
    const t = this.tensors.get(name);
    if (t === undefined) throw new Error(`${this.name}: no tensor '${name}'`);
    return t;
  }

  shape(name: string): number[] {
    return [...this.get(name).shape];
  }

  f32(name: string): Float32Array {
    return toFloat32(this.get(name));
  }

  tensor(name: string): Tensor {
    return new Tensor(this.shape(name), this.f32(name));
  }

  i64(name: string): BigInt64Array {
    return toBigInt64(this.get(name), name);
  }

  i32(name: string): Int32Array {
    return toInt32(this.get(name), name);
  }

  num(key: string): number {
    const v = this.meta[key];
    if (v === undefined) throw new Error(`${this.name}: no metadata '${key}'`);
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`${this.name}: metadata '${key}' = '${v}' is not a number`);
    return n;
  }
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Asserts |got − expected| ≤ tol element-wise (and equal lengths), naming the worst element. */
export function assertClose(
  got: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(got.length, expected.length, `${what}: length ${got.length}, expected ${expected.length}`);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - expected[i]!);
    if (Number.isNaN(err)) assert.fail(`${what}: got ${got[i]}, expected ${expected[i]} at [${i}]`);
    if (err > worstErr) {
      worstErr = err;
      worst = i;
    }
  }
  if (worst >= 0 && worstErr > tol) {
    assert.fail(
      `${what}: |got − expected| = ${worstErr} > ${tol} at [${worst}] (got ${got[worst]}, expected ${expected[worst]})`,
    );
  }
}

/** Relative `rel` of the tensor's largest magnitude (the model fixtures' logits and losses: 1e-3). */
export function assertRelative(
  got: ArrayLike<number>,
  expected: Float32Array,
  rel: number,
  what: string,
): void {
  assertClose(got, expected, rel * Math.max(maxAbs(expected), Number.MIN_VALUE), what);
}

/** The names after `prefix` of a fixture's tensors that start with it. */
export function suffixes(f: Fixture, prefix: string): string[] {
  return f
    .names()
    .filter((n) => n.startsWith(prefix))
    .map((n) => n.slice(prefix.length));
}

/**
 * A model fixture's first-step gradients (step() does not clear them), one grad_norm per parameter: the
 * sampled elements and each gradient's norm within 1e-2·max(max|e|, 1e-5·G), G the largest norm.
 */
export function assertFixtureGrads(
  f: Fixture,
  params: ReadonlyMap<string, { readonly grad: Float32Array }>,
): void {
  const norms = suffixes(f, 'grad_norm.');
  assert.equal(norms.length, params.size, 'one grad_norm per parameter');
  let gMax = 0;
  for (const name of norms) gMax = Math.max(gMax, f.f32(`grad_norm.${name}`)[0]!);
  for (const name of norms) {
    const p = params.get(name);
    assert.ok(p, `model has no parameter ${name}`);
    const idx = f.i64(`grad_idx.${name}`);
    const sample = f.f32(`grad_sample.${name}`);
    const got = Array.from(idx, (i) => p.grad[Number(i)]!);
    const tol = 1e-2 * Math.max(maxAbs(sample), 1e-5 * gMax);
    assertClose(got, sample, tol, `grad_sample.${name}`);
    let ss = 0;
    for (const g of p.grad) ss += g * g;
    const norm = f.f32(`grad_norm.${name}`);
    assertClose([Math.sqrt(ss)], norm, 1e-2 * Math.max(norm[0]!, 1e-5 * gMax), `grad_norm.${name}`);
  }
}

/** README tolerance for layers: max(20·torch_f32_err, 1e-5)·max(1, max|expected|). */
export function layerTolerance(f: Fixture, expected: ArrayLike<number>): number {
  return Math.max(20 * f.num('torch_f32_err'), 1e-5) * Math.max(1, maxAbs(expected));
}

/** Checks `got` against fixture tensor `name` with the layer tolerance. */
export function assertLayerClose(f: Fixture, got: ArrayLike<number>, name: string): void {
  const expected = f.f32(name);
  assertClose(got, expected, layerTolerance(f, expected), `${f.name} ${name}`);
}
