import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { looksLikeLegacyPth, parseLegacyPth } from '../../src/io/pth-legacy.js';
import { toFloat32 } from '../../src/io/safe-tensor.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import {
  legacyPth,
  PickleWriter,
  stateDictPickle,
  type TensorSpec,
  writeTensor,
} from './helpers/pickle-writer.js';

function expectFormat(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTeeError(e, 'E_FORMAT'), `expected E_FORMAT, got ${String(e)}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

const ramp = (n: number) => new Uint8Array(Float32Array.from({ length: n }, (_, i) => i).buffer);
const spec = (
  key: string,
  storageNumel: number,
  size: number[],
  extra: Partial<TensorSpec> = {},
): TensorSpec => ({
  key,
  storage: 'FloatStorage',
  storageNumel,
  size,
  ...extra,
});

function sample(littleEndian = true): Uint8Array {
  const object = stateDictPickle(
    [
      ['w', spec('10', 6, [2, 3])],
      ['wt', spec('10', 6, [3, 2], { stride: [1, 3] })],
      ['v', spec('20', 8, [2, 2], { view: ['21', 4, 4] })],
      ['labels', spec('30', 3, [3], { storage: 'LongStorage' })],
    ],
    { legacy: true, metadata: true },
  );
  return legacyPth(
    object,
    [
      ['10', ramp(6), 6],
      ['20', ramp(8), 8],
      ['30', new Uint8Array(BigInt64Array.of(1n, 2n, 3n).buffer), 3],
    ],
    { littleEndian },
  );
}

describe('legacy pth reader', () => {
  it('recognises the magic and reads tensors, transposes, storage views and int64 storages', () => {
    const b = sample();
    assert.ok(looksLikeLegacyPth(b));
    const { tensors } = parseLegacyPth(b, 'old.pth');
    assert.deepEqual([...tensors.keys()], ['w', 'wt', 'v', 'labels']);
    assert.deepEqual([...toFloat32(tensors.get('w')!)], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual([...toFloat32(tensors.get('wt')!)], [0, 3, 1, 4, 2, 5]);
    assert.deepEqual([...toFloat32(tensors.get('v')!)], [4, 5, 6, 7]);
    assert.equal(tensors.get('labels')!.dtype, 'I64');
  });

  it('reads a Python 2 pickle: OrderedDict([[name, tensor]]) and byte-string names', () => {
    const p = new PickleWriter().proto(2).global('collections', 'OrderedDict').mark().emptyList().mark();
    p.emptyList().mark().raw(0x55, 1, 0x77); // ['w', tensor] with SHORT_BINSTRING 'w'
    writeTensor(p, spec('1', 2, [2]), false, true);
    p.appends().appends().tuple().reduce().stop();
    const { tensors } = parseLegacyPth(legacyPth(p.bytes(), [['1', ramp(2), 2]]));
    assert.deepEqual([...toFloat32(tensors.get('w')!)], [0, 1]);
  });

  it('rejects a big-endian checkpoint, every truncation and trailing bytes', () => {
    expectFormat(() => parseLegacyPth(sample(false)), /little-endian/);
    const b = sample();
    for (let n = 0; n < b.length; n += 3) expectFormat(() => parseLegacyPth(b.subarray(0, n)));
    expectFormat(() => parseLegacyPth(Uint8Array.from([...b, 0])), /after the last storage/);
  });

  it('rejects a storage whose recorded size disagrees with the pickle', () => {
    const object = stateDictPickle([['w', spec('1', 4, [4])]], { legacy: true });
    expectFormat(() => parseLegacyPth(legacyPth(object, [['1', ramp(3), 3]])), /holds 3 elements/);
    expectFormat(() => parseLegacyPth(legacyPth(object, [['2', ramp(4), 4]])), /not used/);
  });

  it('never throws anything but E_FORMAT on thousands of mutated files', () => {
    const rng = new SeededRng(3);
    const good = sample();
    for (let iter = 0; iter < 3000; iter++) {
      const b = Uint8Array.from(good);
      const flips = 1 + rng.nextInt(3);
      for (let k = 0; k < flips; k++) b[rng.nextInt(b.length)] = rng.nextInt(256);
      try {
        const r = parseLegacyPth(iter % 7 === 0 ? b.subarray(0, rng.nextInt(b.length)) : b);
        for (const t of r.tensors.values()) toFloat32(t);
      } catch (e) {
        if (!isTeeError(e, 'E_FORMAT')) throw new Error(`iteration ${iter}: unexpected ${String(e)}`);
      }
    }
  });
});
