import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { toFloat32 } from '../../src/io/safe-tensor.js';
import { readSafetensorsFile } from '../../src/io/safetensors.js';
import { fixtureInit, fixtureInitModel, fnv1a32, type InitEntry } from '../../src/tensor/fixture-init.js';
import { fixtureFiles } from '../io/fixtures-dir.js';

function entry(name: string, shape: number[], i64 = false): InitEntry {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, data: i64 ? new BigInt64Array(n).fill(9n) : new Float32Array(n).fill(Number.NaN) };
}

describe('fixture init', () => {
  it('hashes names with 32-bit FNV-1a (published test vectors)', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  for (const file of fixtureFiles('models')) {
    it(`re-creates the stored input of ${file.split('/').pop()} bit for bit`, () => {
      const { tensors, metadata } = readSafetensorsFile(file);
      const input = tensors.get('input')!;
      const n = input.shape.reduce((a, b) => a * b, 1);
      const got = fixtureInit('input', n, 1, Number(metadata.seed));
      const want = toFloat32(input);
      assert.equal(got.length, want.length);
      assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer));
    });
  }

  it('stays within [-B, B) and depends on the name and the seed', () => {
    const a = fixtureInit('w', 1000, 0.25, 1);
    assert.ok(a.every((v) => v >= -0.25 && v < 0.25));
    assert.notDeepEqual(a, fixtureInit('w', 1000, 0.25, 2));
    assert.notDeepEqual(a, fixtureInit('v', 1000, 0.25, 1));
    assert.deepEqual(a, fixtureInit('w', 1000, 0.25, 1));
  });

  it('initialises conv, linear and BatchNorm entries by the README rules', () => {
    const entries = [
      entry('features.0.weight', [4, 3, 3, 3]),
      entry('features.0.bias', [4]),
      entry('features.1.weight', [4]),
      entry('features.1.bias', [4]),
      entry('features.1.running_mean', [4]),
      entry('features.1.running_var', [4]),
      entry('features.1.num_batches_tracked', [], true),
      entry('fc.weight', [10, 36]),
      entry('fc.bias', [10]),
    ];
    fixtureInitModel(entries, 7);
    const [cw, cb, bw, bb, rm, rv, nbt, fw, fb] = entries.map((e) => e.data);
    assert.deepEqual(cw, fixtureInit('features.0.weight', 108, 1 / Math.sqrt(27), 7));
    assert.deepEqual(cb, fixtureInit('features.0.bias', 4, 1 / Math.sqrt(27), 7));
    const v = fixtureInit('features.1.weight', 4, 0.1, 7);
    assert.deepEqual(
      bw,
      Float32Array.from(v, (x) => Math.fround(1 + x)),
    );
    assert.deepEqual(bb, fixtureInit('features.1.bias', 4, 0.1, 7));
    assert.deepEqual([...rm!], [0, 0, 0, 0]);
    assert.deepEqual([...rv!], [1, 1, 1, 1]);
    assert.deepEqual([...nbt!], [0n]);
    assert.deepEqual(fw, fixtureInit('fc.weight', 360, 1 / 6, 7));
    assert.deepEqual(fb, fixtureInit('fc.bias', 10, 1 / 6, 7));
  });

  it('refuses an entry it has no rule for (E_STATE)', () => {
    assert.throws(
      () => fixtureInitModel([entry('ln.weight', [4])], 1),
      (e) => isTeeError(e, 'E_STATE'),
    );
    assert.throws(
      () => fixtureInitModel([entry('x.bias', [4])], 1),
      (e) => isTeeError(e, 'E_STATE'),
    );
  });
});
