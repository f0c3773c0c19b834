import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTeeError, type TeeError } from '../../src/errors.js';
import {
  fromBigInt64,
  fromFloat32,
  fromInt32,
  type SafeTensor,
  toFloat32,
} from '../../src/io/safe-tensor.js';
import { readSafetensorsFile } from '../../src/io/safetensors.js';
import { loadStateDict, replaceHead, saveStateDict, stateDictTensors } from '../../src/io/state-dict.js';
import type { StateEntry } from '../../src/tensor/state-entry.js';

const tmp = mkdtempSync(join(tmpdir(), 'tee-state-dict-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A tiny stand-in for a torchvision model: conv + bn + fc with `classes` outputs. */
function fakeModel(classes = 3): { stateEntries(): StateEntry[] } {
  const f = (name: string, shape: number[], kind: 'parameter' | 'buffer' = 'parameter'): StateEntry => ({
    name,
    shape,
    dtype: 'F32',
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    kind,
  });
  const entries: StateEntry[] = [
    f('conv1.weight', [2, 1, 3, 3]),
    f('bn1.weight', [2]),
    f('bn1.bias', [2]),
    f('bn1.running_mean', [2], 'buffer'),
    f('bn1.running_var', [2], 'buffer'),
    { name: 'bn1.num_batches_tracked', shape: [], dtype: 'I64', data: new BigInt64Array(1), kind: 'buffer' },
    f('fc.weight', [classes, 2]),
    f('fc.bias', [classes]),
  ];
  return { stateEntries: () => entries };
}

function ramp(shape: number[], start = 0): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => start + i / 8);
}

function weights(classes = 3, prefix = ''): Map<string, SafeTensor> {
  const m = new Map<string, SafeTensor>();
  const put = (name: string, shape: number[], start: number) =>
    m.set(prefix + name, fromFloat32(shape, ramp(shape, start)));
  put('conv1.weight', [2, 1, 3, 3], 1);
  put('bn1.weight', [2], 2);
  put('bn1.bias', [2], 3);
  put('bn1.running_mean', [2], 4);
  put('bn1.running_var', [2], 5);
  m.set(`${prefix}bn1.num_batches_tracked`, fromBigInt64([], BigInt64Array.of(42n)));
  put('fc.weight', [classes, 2], 6);
  put('fc.bias', [classes], 7);
  return m;
}

function entry(model: { stateEntries(): StateEntry[] }, name: string): StateEntry {
  return model.stateEntries().find((e) => e.name === name)!;
}

function stateError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isTeeError(e, 'E_STATE'), `expected E_STATE, got ${String(e)}`);
    return (e as TeeError).message;
  }
  assert.fail('expected E_STATE');
}

describe('state dict', () => {
  it('loads every parameter and buffer into the live arrays', () => {
    const model = fakeModel();
    const report = loadStateDict(model, weights());
    assert.equal(report.loaded.length, 8);
    assert.deepEqual(entry(model, 'conv1.weight').data, ramp([2, 1, 3, 3], 1));
    assert.deepEqual(entry(model, 'bn1.running_var').data, ramp([2], 5));
    assert.deepEqual([...entry(model, 'bn1.num_batches_tracked').data], [42n]);
  });

  it('converts F64/F16/BF16 into F32 entries and I32 into I64 entries', () => {
    const model = fakeModel();
    const w = weights();
    w.set('conv1.weight', fromFloat32([2, 1, 3, 3], ramp([2, 1, 3, 3]), 'F64'));
    w.set('bn1.weight', fromFloat32([2], Float32Array.of(1.5, -2), 'F16'));
    w.set('bn1.bias', fromFloat32([2], Float32Array.of(0.5, 3), 'BF16'));
    w.set('bn1.num_batches_tracked', fromInt32([], Int32Array.of(7)));
    loadStateDict(model, w);
    assert.deepEqual(entry(model, 'conv1.weight').data, ramp([2, 1, 3, 3]));
    assert.deepEqual([...entry(model, 'bn1.weight').data], [1.5, -2]);
    assert.deepEqual([...entry(model, 'bn1.bias').data], [0.5, 3]);
    assert.deepEqual([...entry(model, 'bn1.num_batches_tracked').data], [7n]);
  });

  it('lists every missing, unexpected and mis-shaped key in one E_STATE and writes nothing', () => {
    const model = fakeModel();
    const w = weights(5);
    w.delete('bn1.bias');
    w.delete('bn1.running_mean');
    w.set('extra.weight', fromFloat32([1], Float32Array.of(1)));
    w.set('conv1.weight', fromBigInt64([2, 1, 3, 3], new BigInt64Array(18)));
    const msg = stateError(() => loadStateDict(model, w));
    assert.match(msg, /missing keys: bn1\.bias, bn1\.running_mean/);
    assert.match(msg, /unexpected keys: extra\.weight/);
    assert.match(msg, /fc\.weight \[5,2\] in file vs \[3,2\] in model/);
    assert.match(msg, /fc\.bias \[5\] in file vs \[3\] in model/);
    assert.match(msg, /conv1\.weight is I64 in file, model needs F32/);
    assert.ok(
      entry(model, 'bn1.weight').data.every((v) => v === 0),
      'nothing written on failure',
    );
  });

  it('tolerates missing and unexpected keys when not strict, but never wrong shapes', () => {
    const model = fakeModel();
    const w = weights();
    w.delete('fc.bias');
    w.set('aux.bias', fromFloat32([1], Float32Array.of(1)));
    const report = loadStateDict(model, w, { strict: false });
    assert.deepEqual(report.missing, ['fc.bias']);
    assert.deepEqual(report.unexpected, ['aux.bias']);
    assert.deepEqual(entry(model, 'fc.weight').data, ramp([3, 2], 6));
    stateError(() => loadStateDict(fakeModel(), weights(4), { strict: false }));
  });

  it('strips a DataParallel prefix and skips keys on request', () => {
    const model = fakeModel();
    const report = loadStateDict(model, weights(3, 'module.'), {
      stripPrefix: 'module.',
      skipKeys: (n) => n.startsWith('bn1.running'),
    });
    assert.deepEqual(report.skipped, ['bn1.running_mean', 'bn1.running_var']);
    assert.ok(entry(model, 'bn1.running_mean').data.every((v) => v === 0));
    assert.deepEqual(entry(model, 'conv1.weight').data, ramp([2, 1, 3, 3], 1));
  });

  it('accepts a 0-d num_batches_tracked for a [1] buffer and the reverse', () => {
    const model = fakeModel();
    const w = weights();
    w.set('bn1.num_batches_tracked', fromBigInt64([1], BigInt64Array.of(3n)));
    loadStateDict(model, w);
    assert.deepEqual([...entry(model, 'bn1.num_batches_tracked').data], [3n]);
  });

  it('saves parameters and buffers as safetensors with torchvision names and reads them back', () => {
    const model = fakeModel();
    loadStateDict(model, weights());
    const path = join(tmp, 'model.safetensors');
    saveStateDict(model, path, { arch: 'fake' });
    const back = readSafetensorsFile(path);
    assert.equal(back.metadata.arch, 'fake');
    assert.deepEqual(
      [...back.tensors.keys()],
      model.stateEntries().map((e) => e.name),
    );
    assert.equal(back.tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');
    assert.deepEqual(back.tensors.get('bn1.num_batches_tracked')!.shape, []);
    assert.deepEqual(toFloat32(back.tensors.get('fc.bias')!), ramp([3], 7));
    const again = fakeModel();
    loadStateDict(again, back.tensors);
    assert.deepEqual(stateDictTensors(again), stateDictTensors(model));
  });

  it('replaceHead skips only the classifier keys whose shape differs and reports them', () => {
    const model = fakeModel(10);
    const report = replaceHead(model, weights(1000));
    assert.deepEqual(report.skipped, ['fc.weight', 'fc.bias']);
    assert.ok(
      entry(model, 'fc.weight').data.every((v) => v === 0),
      'head keeps its own init',
    );
    assert.deepEqual(entry(model, 'conv1.weight').data, ramp([2, 1, 3, 3], 1));
    // same class count: nothing skipped
    assert.deepEqual(replaceHead(fakeModel(3), weights(3)).skipped, []);
    // a mismatch outside the head is still an error
    const w = weights(1000);
    w.set('bn1.weight', fromFloat32([3], new Float32Array(3)));
    assert.match(
      stateError(() => replaceHead(fakeModel(10), w)),
      /bn1\.weight \[3\] in file vs \[2\]/,
    );
  });

  it('replaceHead finds classifier.6 as the head of a VGG/AlexNet-style model', () => {
    const entries: StateEntry[] = ['classifier.0', 'classifier.3', 'classifier.6'].flatMap((p, i) => {
      const out = i === 2 ? 10 : 4;
      return [
        {
          name: `${p}.weight`,
          shape: [out, 4],
          dtype: 'F32',
          data: new Float32Array(out * 4),
          kind: 'parameter',
        },
        { name: `${p}.bias`, shape: [out], dtype: 'F32', data: new Float32Array(out), kind: 'parameter' },
      ] as StateEntry[];
    });
    const w = new Map<string, SafeTensor>();
    for (const e of entries) {
      const shape = e.name.startsWith('classifier.6') ? [1000, ...e.shape.slice(1)] : [...e.shape];
      w.set(e.name, fromFloat32(shape, ramp(shape)));
    }
    const report = replaceHead({ stateEntries: () => entries }, w);
    assert.deepEqual(report.skipped, ['classifier.6.weight', 'classifier.6.bias']);
    assert.equal(report.loaded.length, 4);
  });
});
