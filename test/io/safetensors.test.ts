import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import {
  bf16ToFloat,
  floatToBf16,
  floatToHalf,
  fromBigInt64,
  fromFloat32,
  fromFloat64,
  fromInt32,
  fromUint8,
  halfToFloat,
  type SafeTensor,
  toBigInt64,
  toFloat32,
  toInt32,
} from '../../src/io/safe-tensor.js';
import {
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
} from '../../src/io/safetensors.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { fixtureFiles } from './fixtures-dir.js';

const tmp = mkdtempSync(join(tmpdir(), 'tee-safetensors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A file built from a raw header object and a data section, bypassing the writer's checks. */
function rawFile(header: unknown, data: Uint8Array | number = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(body, 8 + json.byteLength);
  return out;
}

function expectFormat(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTeeError(e, 'E_FORMAT'), `expected E_FORMAT, got ${String(e)}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ['f32', fromFloat32([2, 3], Float32Array.from([1, -2, 3.5, 0, -0, 1e-20]))],
    ['f64', fromFloat64([3], Float64Array.from([Math.PI, -1e300, 5e-324]))],
    ['f16', fromFloat32([4], Float32Array.from([1, -2.5, 65504, 6e-8]), 'F16')],
    ['bf16', fromFloat32([2, 2], Float32Array.from([1, -3, 1e30, 0.15625]), 'BF16')],
    ['i64', fromBigInt64([2], BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]))],
    ['i32', fromInt32([3], Int32Array.from([-2147483648, 0, 2147483647]))],
    ['u8', fromUint8([5], Uint8Array.from([0, 1, 127, 128, 255]))],
    ['bool', fromUint8([3], Uint8Array.from([1, 0, 1]), 'BOOL')],
    ['scalar', fromFloat32([], Float32Array.from([7]))],
    ['empty', fromFloat32([0, 4], new Float32Array(0))],
  ]);
}

describe('safetensors', () => {
  it('round-trips every dtype, shape and byte, keeping insertion order and metadata', () => {
    const tensors = sample();
    const bytes = serializeSafetensors(tensors, { note: 'hello', seed: '1' });
    const back = parseSafetensors(bytes);
    assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
    assert.deepEqual(back.metadata, { note: 'hello', seed: '1' });
    for (const [name, t] of tensors) {
      const r = back.tensors.get(name)!;
      assert.equal(r.dtype, t.dtype, name);
      assert.deepEqual(r.shape, t.shape, name);
      assert.deepEqual(new Uint8Array(r.data), new Uint8Array(t.data), name);
    }
  });

  it('keeps awkward names (__proto__, unicode, empty) in tensors and metadata', () => {
    const t = fromFloat32([1], Float32Array.of(1));
    const bytes = serializeSafetensors(
      [
        ['__proto__', t],
        ['ünï.çødé', t],
        ['', t],
      ],
      JSON.parse('{"__proto__": "x"}') as Record<string, string>,
    );
    const back = parseSafetensors(bytes);
    assert.deepEqual([...back.tensors.keys()], ['__proto__', 'ünï.çødé', '']);
    assert.ok(Object.hasOwn(back.metadata, '__proto__'));
    assert.equal(Object.getOwnPropertyDescriptor(back.metadata, '__proto__')?.value, 'x');
  });

  it('pads the header with spaces to a multiple of 8 bytes', () => {
    for (let extra = 0; extra < 9; extra++) {
      const bytes = serializeSafetensors([['x'.repeat(extra + 1), fromFloat32([1], Float32Array.of(1))]]);
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      assert.equal(n % 8, 0);
      const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      assert.match(json, /^\{[^ ]*\} {0,7}$/);
    }
  });

  it('converts every dtype to float32, and integer dtypes to int64 and int32', () => {
    const back = parseSafetensors(serializeSafetensors(sample())).tensors;
    assert.deepEqual([...toFloat32(back.get('f32')!)], [1, -2, 3.5, 0, -0, Math.fround(1e-20)]);
    assert.deepEqual([...toFloat32(back.get('f64')!)], [Math.fround(Math.PI), -Infinity, 0]);
    assert.deepEqual([...toFloat32(back.get('f16')!)], [1, -2.5, 65504, 2 ** -24]);
    assert.deepEqual([...toFloat32(back.get('bf16')!)], [1, -3, bf16ToFloat(floatToBf16(1e30)), 0.15625]);
    assert.deepEqual([...toFloat32(back.get('u8')!)], [0, 1, 127, 128, 255]);
    assert.deepEqual([...toFloat32(back.get('bool')!)], [1, 0, 1]);
    assert.deepEqual([...toBigInt64(back.get('i64')!)], [-(2n ** 63n), 2n ** 63n - 1n]);
    assert.deepEqual([...toBigInt64(back.get('i32')!)], [-2147483648n, 0n, 2147483647n]);
    assert.deepEqual([...toInt32(back.get('i32')!)], [-2147483648, 0, 2147483647]);
    assert.deepEqual([...toInt32(fromBigInt64([2], BigInt64Array.of(5n, -7n)))], [5, -7]);
    assert.throws(
      () => toInt32(back.get('i64')!),
      (e) => isTeeError(e, 'E_FORMAT'),
    );
    assert.throws(
      () => toBigInt64(back.get('f32')!),
      (e) => isTeeError(e, 'E_FORMAT'),
    );
  });

  it('encodes half and bfloat16 with round-to-nearest-even, infinities and NaN', () => {
    assert.equal(floatToHalf(1), 0x3c00);
    assert.equal(floatToHalf(-2), 0xc000);
    assert.equal(floatToHalf(65504), 0x7bff);
    assert.equal(floatToHalf(65520), 0x7c00); // rounds up to +Inf
    assert.equal(floatToHalf(2 ** -24), 0x0001);
    assert.equal(floatToHalf(2 ** -25), 0x0000); // tie to even (0)
    assert.equal(floatToHalf(3 * 2 ** -25), 0x0002); // tie to even (2)
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie to even
    assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
    assert.ok(Number.isNaN(halfToFloat(floatToHalf(Number.NaN))));
    assert.equal(halfToFloat(0xfc00), -Infinity);
    assert.equal(floatToBf16(1), 0x3f80);
    assert.equal(floatToBf16(1 + 2 ** -8), 0x3f80); // tie to even
    assert.equal(floatToBf16(1 + 3 * 2 ** -8), 0x3f82);
    assert.ok(Number.isNaN(bf16ToFloat(floatToBf16(Number.NaN))));
    // every half value survives half → float → half
    for (let h = 0; h < 0x10000; h++) {
      const f = halfToFloat(h);
      if (!Number.isNaN(f)) assert.equal(floatToHalf(f), h);
    }
  });

  it('reads every shared fixture file (layers, models, pth expectations)', () => {
    const files = [...fixtureFiles('layers'), ...fixtureFiles('models'), ...fixtureFiles('pth')];
    assert.ok(files.length >= 20, `only ${files.length} fixture files found`);
    for (const f of files) {
      const { tensors, metadata } = readSafetensorsFile(f);
      assert.ok(tensors.size > 0, f);
      assert.equal(typeof metadata, 'object');
      for (const t of tensors.values()) {
        if (t.dtype === 'F32') assert.equal(toFloat32(t).length * 4, t.data.byteLength);
      }
    }
    const model = readSafetensorsFile(fixtureFiles('models').find((f) => f.includes('alexnet'))!);
    assert.deepEqual(model.tensors.get('input')!.shape, [2, 3, 64, 64]);
    assert.equal(model.tensors.get('labels')!.dtype, 'I64');
    assert.equal(model.metadata.seed, '1');
  });

  it('writes atomically, replaces an existing file and leaves no temporary file', () => {
    const path = join(tmp, 'out.safetensors');
    writeSafetensorsFile(path, [['a', fromFloat32([1], Float32Array.of(1))]]);
    writeSafetensorsFile(path, sample(), { v: '2' });
    assert.equal(readSafetensorsFile(path).metadata.v, '2');
    assert.deepEqual(readdirSync(tmp), ['out.safetensors']);
    assert.deepEqual(new Uint8Array(readFileSync(path)), serializeSafetensors(sample(), { v: '2' }));
  });

  it('reports a missing file or unwritable directory as E_IO', () => {
    assert.throws(
      () => readSafetensorsFile(join(tmp, 'nope.safetensors')),
      (e) => isTeeError(e, 'E_IO'),
    );
    assert.throws(
      () => writeSafetensorsFile(join(tmp, 'no-dir', 'x.safetensors'), sample()),
      (e) => isTeeError(e, 'E_IO'),
    );
    assert.ok(!existsSync(join(tmp, 'no-dir')));
  });

  it('refuses bad tensors at write time with TypeError/RangeError', () => {
    assert.throws(
      () => serializeSafetensors([['x', { dtype: 'F32', shape: [3], data: new Uint8Array(8) }]]),
      RangeError,
    );
    assert.throws(
      () => serializeSafetensors([['__metadata__', fromFloat32([1], Float32Array.of(1))]]),
      TypeError,
    );
  });
});

describe('safetensors: hostile input (E_FORMAT)', () => {
  const good = serializeSafetensors(sample(), { note: 'x' });
  const t = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

  it('rejects a file shorter than the 8-byte length', () =>
    expectFormat(() => parseSafetensors(good.subarray(0, 5)), /truncated/));
  it('rejects a truncated header', () =>
    expectFormat(() => parseSafetensors(good.subarray(0, 40)), /truncated/));
  it('rejects a truncated data section', () =>
    expectFormat(() => parseSafetensors(good.subarray(0, good.byteLength - 1)), /past|not covered/));
  it('rejects trailing bytes after the last tensor', () =>
    expectFormat(() => {
      const b = new Uint8Array(good.byteLength + 4);
      b.set(good);
      return parseSafetensors(b);
    }, /not covered/));
  it('rejects a header length above the cap', () => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true);
    expectFormat(() => parseSafetensors(b, 'big.safetensors'), /big\.safetensors: header length/);
  });
  it('rejects a header that is not JSON', () =>
    expectFormat(() => parseSafetensors(rawFile('{"a": ')), /not valid JSON/));
  it('rejects a header that is not UTF-8', () => {
    const b = rawFile('{"a":1}');
    b[10] = 0xff;
    expectFormat(() => parseSafetensors(b), /UTF-8/);
  });
  it('rejects a header that is an array', () =>
    expectFormat(() => parseSafetensors(rawFile([])), /not a JSON object/));
  it('rejects an unknown dtype, naming the tensor', () =>
    expectFormat(
      () => parseSafetensors(rawFile({ w: { ...t, dtype: 'F8' } }, 8)),
      /tensor "w": unknown dtype "F8"/,
    ));
  it('rejects overlapping offsets', () =>
    expectFormat(
      () => parseSafetensors(rawFile({ a: t, b: { ...t, data_offsets: [4, 12] } }, 12)),
      /overlap|does not match/,
    ));
  it('rejects two tensors on the same bytes', () =>
    expectFormat(() => parseSafetensors(rawFile({ a: t, b: t }, 8)), /overlap/));
  it('rejects a gap between tensors', () =>
    expectFormat(() => parseSafetensors(rawFile({ a: t, b: { ...t, data_offsets: [12, 20] } }, 20)), /gap/));
  it('rejects a shape that does not match the byte span', () =>
    expectFormat(() => parseSafetensors(rawFile({ a: { ...t, shape: [3] } }, 8)), /tensor "a": shape \[3\]/));
  it('rejects negative and fractional dimensions', () => {
    expectFormat(() => parseSafetensors(rawFile({ a: { ...t, shape: [-2] } }, 8)), /non-negative integers/);
    expectFormat(() => parseSafetensors(rawFile({ a: { ...t, shape: [1.5] } }, 8)), /non-negative integers/);
    expectFormat(() => parseSafetensors(rawFile({ a: { ...t, shape: ['2'] } }, 8)), /non-negative integers/);
  });
  it('rejects an element count that overflows', () =>
    expectFormat(
      () => parseSafetensors(rawFile({ a: { ...t, shape: [2 ** 40, 2 ** 40] } }, 8)),
      /does not match/,
    ));
  it('rejects reversed and malformed data_offsets', () => {
    expectFormat(() => parseSafetensors(rawFile({ a: { ...t, data_offsets: [8, 0] } }, 8)), /data_offsets/);
    expectFormat(() => parseSafetensors(rawFile({ a: { ...t, data_offsets: [0] } }, 8)), /data_offsets/);
  });
  it('rejects duplicate tensor names', () => {
    const json =
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expectFormat(() => parseSafetensors(rawFile(json, 8)), /duplicate tensor name "a"/);
  });
  it('rejects non-string metadata values', () =>
    expectFormat(() => parseSafetensors(rawFile({ __metadata__: { a: 1 } })), /__metadata__/));

  it('never throws anything but E_FORMAT on thousands of mutated or truncated files', () => {
    const rng = new SeededRng(12345);
    const small = serializeSafetensors(
      [
        ['a', fromFloat32([2, 2], Float32Array.of(1, 2, 3, 4))],
        ['b', fromBigInt64([1], BigInt64Array.of(3n))],
        ['c', fromFloat32([3], Float32Array.of(1, 2, 3), 'F16')],
      ],
      { k: 'v' },
    );
    let parsed = 0;
    for (let iter = 0; iter < 5000; iter++) {
      let b = Uint8Array.from(small);
      const mode = rng.nextInt(4);
      if (mode === 0) b = b.subarray(0, rng.nextInt(b.byteLength));
      else {
        const flips = 1 + rng.nextInt(mode === 3 ? 8 : 2);
        for (let k = 0; k < flips; k++) {
          // mostly hit the header, where structure lives
          const i = rng.nextInt(mode === 1 ? Math.min(b.byteLength, 140) : b.byteLength);
          b[i] = mode === 2 ? b[i]! ^ (1 << rng.nextInt(8)) : rng.nextInt(256);
        }
      }
      try {
        const r = parseSafetensors(b);
        for (const t of r.tensors.values()) toFloat32(t);
        parsed++;
      } catch (e) {
        if (!isTeeError(e, 'E_FORMAT')) throw new Error(`iteration ${iter}: unexpected ${String(e)}`);
      }
    }
    assert.ok(parsed > 0); // data-only flips still parse
  });
});
