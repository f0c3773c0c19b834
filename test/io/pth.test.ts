import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { parsePth, readPthFile } from '../../src/io/pth.js';
import { fromFloat32, toBigInt64, toFloat32 } from '../../src/io/safe-tensor.js';
import { readSafetensorsFile } from '../../src/io/safetensors.js';
import { openZip, readZipEntry } from '../../src/io/zip.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { fixturePath } from './fixtures-dir.js';
import {
  PickleWriter,
  pthArchive,
  stateDictPickle,
  type TensorSpec,
  writeTensor,
} from './helpers/pickle-writer.js';
import { buildZip } from './helpers/zip-writer.js';

function expectFormat(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTeeError(e, 'E_FORMAT'), `expected E_FORMAT, got ${String(e)}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const ramp = (n: number) => f32(...Array.from({ length: n }, (_, i) => i));
const w = (name: string, size: number[], extra: Partial<TensorSpec> = {}): [string, TensorSpec] => [
  name,
  { key: '0', storage: 'FloatStorage', storageNumel: size.reduce((a, b) => a * b, 1), size, ...extra },
];

describe('pth reader', () => {
  it('reads mixed.pth exactly as mixed.expected.safetensors (every tensor, dtype and byte)', () => {
    const got = readPthFile(fixturePath('pth', 'mixed.pth')).tensors;
    const want = readSafetensorsFile(fixturePath('pth', 'mixed.expected.safetensors')).tensors;
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [name, t] of want) {
      const g = got.get(name)!;
      assert.equal(g.dtype, t.dtype, name);
      // The fixture stores the 0-d num_batches_tracked as [1]; the checkpoint says 0-d (size ()).
      const shape = name === 'bn.num_batches_tracked' ? [1] : g.shape;
      if (name === 'bn.num_batches_tracked') assert.deepEqual(g.shape, []);
      assert.deepEqual(shape, t.shape, name);
      assert.deepEqual(g.data, new Uint8Array(t.data), name);
    }
  });

  it('rebuilds transposed views and views sharing one storage at offsets, as contiguous copies', () => {
    const pkl = stateDictPickle([
      w('t', [3, 2], { storageNumel: 6, stride: [1, 3] }), // transpose of a [2,3]
      w('a', [2, 2], { storageNumel: 6, offset: 1, stride: [3, 1] }),
      w('b', [2], { storageNumel: 6, offset: 2, stride: [3] }),
      w('s', [], { storageNumel: 6, offset: 5 }),
    ]);
    const { tensors } = parsePth(pthArchive(pkl, { '0': ramp(6) }));
    assert.deepEqual([...toFloat32(tensors.get('t')!)], [0, 3, 1, 4, 2, 5]);
    assert.deepEqual([...toFloat32(tensors.get('a')!)], [1, 2, 4, 5]);
    assert.deepEqual([...toFloat32(tensors.get('b')!)], [2, 5]);
    assert.deepEqual(tensors.get('s')!.shape, []);
    assert.deepEqual([...toFloat32(tensors.get('s')!)], [5]);
  });

  it('reads every supported storage dtype, transposed 8- and 2-byte elements included', () => {
    const specs: [string, string, number, Uint8Array][] = [
      ['F32', 'FloatStorage', 4, ramp(4)],
      ['F64', 'DoubleStorage', 4, new Uint8Array(Float64Array.of(0, 1, 2, 3).buffer)],
      ['F16', 'HalfStorage', 4, fromFloat32([4], Float32Array.of(0, 1, 2, 3), 'F16').data],
      ['BF16', 'BFloat16Storage', 4, fromFloat32([4], Float32Array.of(0, 1, 2, 3), 'BF16').data],
      ['I64', 'LongStorage', 4, new Uint8Array(BigInt64Array.of(0n, 1n, 2n, 3n).buffer)],
      ['I32', 'IntStorage', 4, new Uint8Array(Int32Array.of(0, 1, 2, 3).buffer)],
      ['U8', 'ByteStorage', 4, Uint8Array.of(0, 1, 2, 3)],
      ['BOOL', 'BoolStorage', 4, Uint8Array.of(0, 1, 1, 1)],
    ];
    const entries = specs.map(([d, storage], i): [string, TensorSpec] => [
      d,
      { key: String(i), storage, storageNumel: 4, size: [2, 2], stride: [1, 2] },
    ]);
    const storages = Object.fromEntries(specs.map(([, , , bytes], i) => [String(i), bytes]));
    const { tensors } = parsePth(pthArchive(stateDictPickle(entries), storages, { deflate: true }));
    for (const [d] of specs) {
      const t = tensors.get(d)!;
      assert.equal(t.dtype, d);
      assert.deepEqual([...toFloat32(t)], d === 'BOOL' ? [0, 1, 1, 1] : [0, 2, 1, 3], d);
    }
    assert.deepEqual([...toBigInt64(tensors.get('I64')!)], [0n, 2n, 1n, 3n]);
  });

  it('accepts the _metadata BUILD, nn.Parameter wrappers, {"state_dict": ...} checkpoints and ZIP64', () => {
    const pkl = stateDictPickle([w('fc.weight', [2, 2]), w('fc.bias', [2], { key: '1' })], {
      metadata: true,
      wrap: true,
      parameters: ['fc.weight'],
    });
    const { tensors } = parsePth(
      pthArchive(pkl, { '0': ramp(4), '1': ramp(2) }, { prefix: 'resnet', zip64: true }),
    );
    assert.deepEqual([...tensors.keys()], ['fc.weight', 'fc.bias']);
    assert.deepEqual([...toFloat32(tensors.get('fc.weight')!)], [0, 1, 2, 3]);
  });

  it('refuses a forbidden global by name, through GLOBAL and STACK_GLOBAL (E_FORMAT)', () => {
    const viaGlobal = new PickleWriter()
      .proto(2)
      .global('os', 'system')
      .str('echo pwned')
      .raw(0x85)
      .reduce()
      .stop();
    expectFormat(() => parsePth(pthArchive(viaGlobal.bytes(), {})), /refused pickle global os\.system/);
    const viaStack = new PickleWriter()
      .proto(4)
      .stackGlobal('builtins', 'eval')
      .str('1')
      .raw(0x85)
      .reduce()
      .stop();
    expectFormat(() => parsePth(pthArchive(viaStack.bytes(), {})), /refused pickle global builtins\.eval/);
    const lookalike = new PickleWriter().proto(2).global('torch', 'load').stop();
    expectFormat(() => parsePth(pthArchive(lookalike.bytes(), {})), /refused pickle global torch\.load/);
  });

  it('refuses REDUCE on anything but an allowed callable, and unknown opcodes', () => {
    const notCallable = new PickleWriter().proto(2).str('x').emptyTuple().reduce().stop();
    expectFormat(() => parsePth(pthArchive(notCallable.bytes(), {})), /not an allowed callable/);
    const inst = new PickleWriter().proto(2).raw(0x69).stop(); // INST
    expectFormat(() => parsePth(pthArchive(inst.bytes(), {})), /unsupported pickle opcode 0x69/);
  });

  it('refuses a storage of unknown dtype (E_FORMAT)', () => {
    const pkl = stateDictPickle([w('c', [2], { storage: 'ComplexFloatStorage' })]);
    expectFormat(
      () => parsePth(pthArchive(pkl, { '0': ramp(4) })),
      /unsupported storage dtype torch\.ComplexFloatStorage/,
    );
  });

  it('refuses a storage shorter than its tensor needs (E_FORMAT)', () => {
    const strided = stateDictPickle([w('x', [3, 2], { storageNumel: 6, offset: 1 })]);
    expectFormat(() => parsePth(pthArchive(strided, { '0': ramp(6) })), /holds 6 elements/);
    const lying = stateDictPickle([w('x', [2, 4])]); // declares 8 elements, record has 6
    expectFormat(() => parsePth(pthArchive(lying, { '0': ramp(6) })), /storage 0 holds 24 bytes/);
    const missing = stateDictPickle([w('x', [2], { key: '9' })]);
    expectFormat(() => parsePth(pthArchive(missing, { '0': ramp(2) })), /no data\/9 record/);
    const expanded = stateDictPickle([w('x', [4, 2], { storageNumel: 2, stride: [0, 1] })]);
    expectFormat(() => parsePth(pthArchive(expanded, { '0': ramp(2) })), /expanded views/);
  });

  it('refuses non-tensor values, missing data.pkl and trailing pickle bytes', () => {
    const notTensor = new PickleWriter().proto(2).emptyDict().str('epoch').int(3).setitem().stop();
    expectFormat(() => parsePth(pthArchive(notTensor.bytes(), {})), /"epoch" is not a tensor/);
    expectFormat(() => parsePth(buildZip([{ name: 'x/other', data: ramp(1) }])), /no ARCHIVE\/data\.pkl/);
    const trailing = Uint8Array.from([...stateDictPickle([]), 0x4e]);
    expectFormat(() => parsePth(pthArchive(trailing, {})), /after STOP/);
    const p = new PickleWriter().proto(2);
    writeTensor(p, { key: '0', storage: 'FloatStorage', storageNumel: 1, size: [1] });
    expectFormat(() => parsePth(pthArchive(p.stop().bytes(), { '0': ramp(1) })), /not a dict of tensors/);
  });

  it('rejects every truncation of mixed.pth', () => {
    const good = new Uint8Array(readFileSync(fixturePath('pth', 'mixed.pth')));
    for (let n = 0; n < good.length; n += 7)
      expectFormat(() => parsePth(good.subarray(0, n), 'cut.pth'), /cut\.pth/);
  });

  it('never throws anything but E_FORMAT on thousands of mutated archives and pickles', () => {
    const rng = new SeededRng(99);
    const good = new Uint8Array(readFileSync(fixturePath('pth', 'mixed.pth')));
    // Re-pack the archive so that pickle and storage mutations get past the CRC check.
    const zip = openZip(good);
    const files = [...zip.entries.values()].map((e) => ({
      name: e.name,
      data: readZipEntry(zip, e).slice(),
    }));
    let parsed = 0;
    for (let iter = 0; iter < 4000; iter++) {
      let archive: Uint8Array;
      if (iter % 2 === 0) {
        archive = Uint8Array.from(good);
        const flips = 1 + rng.nextInt(4);
        for (let k = 0; k < flips; k++) archive[rng.nextInt(archive.length)] = rng.nextInt(256);
      } else {
        const target = rng.nextInt(3) === 0 ? rng.nextInt(files.length) : 0; // mostly data.pkl
        const mutated = files.map((f, i) => {
          if (i !== target) return f;
          let data = Uint8Array.from(f.data);
          if (rng.nextInt(6) === 0) data = data.subarray(0, rng.nextInt(data.length));
          const flips = 1 + rng.nextInt(3);
          for (let k = 0; k < flips && data.length > 0; k++)
            data[rng.nextInt(data.length)] = rng.nextInt(256);
          return { name: f.name, data };
        });
        archive = buildZip(mutated);
      }
      try {
        const r = parsePth(archive, 'fuzz.pth');
        for (const t of r.tensors.values()) toFloat32(t);
        parsed++;
      } catch (e) {
        if (!isTeeError(e, 'E_FORMAT')) throw new Error(`iteration ${iter}: unexpected ${String(e)}`);
      }
    }
    assert.ok(parsed > 0);
  });
});
