// Writes pickles opcode by opcode for tests, and torch.save-shaped state dicts / archives from them
// (the structure PyTorch 1.13 writes: OrderedDict, _rebuild_tensor_v2, ('storage', type, key, 'cpu', n)).
import { buildZip } from './zip-writer.js';

export class PickleWriter {
  private readonly out: number[] = [];

  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  private u32(v: number): number[] {
    return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  }
  proto(n = 2): this {
    return this.raw(0x80, n);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).raw(0x93);
  }
  mark(): this {
    return this.raw(0x28);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x58, ...this.u32(b.length), ...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >>> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.raw(0x4a, ...this.u32(n));
    const b: number[] = [];
    let v = BigInt(n);
    for (let i = 0; i < 8; i++, v >>= 8n) b.push(Number(v & 0xffn));
    return this.raw(0x8a, 8, ...b);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.raw(0x47, ...b);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  none(): this {
    return this.raw(0x4e);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  ints(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  reduce(): this {
    return this.raw(0x52);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  append(): this {
    return this.raw(0x61);
  }
  appends(): this {
    return this.raw(0x65);
  }
  build(): this {
    return this.raw(0x62);
  }
  persid(): this {
    return this.raw(0x51);
  }
  put(i: number): this {
    return this.raw(0x71, i);
  }
  get(i: number): this {
    return this.raw(0x68, i);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface TensorSpec {
  readonly key: string;
  /** e.g. 'FloatStorage' */
  readonly storage: string;
  readonly storageNumel: number;
  readonly offset?: number;
  readonly size: readonly number[];
  readonly stride?: readonly number[];
  /** Legacy format only: the storage is a view (view key, element offset, size) of the root `key`. */
  readonly view?: readonly [string, number, number];
}

function contiguousStride(size: readonly number[]): number[] {
  const s = new Array<number>(size.length).fill(1);
  for (let i = size.length - 2; i >= 0; i--) s[i] = s[i + 1]! * size[i + 1]!;
  return s;
}

/** One tensor: _rebuild_tensor_v2(('storage', torch.X, key, 'cpu', n), offset, size, stride, False, OrderedDict()). */
export function writeTensor(p: PickleWriter, t: TensorSpec, parameter = false, legacy = false): PickleWriter {
  if (parameter) p.global('torch._utils', '_rebuild_parameter').mark();
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', t.storage).str(t.key).str('cpu').int(t.storageNumel);
  if (legacy && t.view) p.mark().str(t.view[0]).int(t.view[1]).int(t.view[2]).tuple();
  else if (legacy) p.none();
  p.tuple().persid();
  p.int(t.offset ?? 0)
    .ints(t.size)
    .ints(t.stride ?? contiguousStride(t.size))
    .bool(false);
  p.global('collections', 'OrderedDict').emptyTuple().reduce();
  p.tuple().reduce();
  if (parameter) p.bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  return p;
}

export interface StateDictOptions {
  /** Add the `_metadata` attribute through BUILD, as Module.state_dict() does. */
  readonly metadata?: boolean;
  /** Wrap as {'epoch': 3, 'state_dict': ...}. */
  readonly wrap?: boolean;
  /** Names whose tensors are pickled as nn.Parameter. */
  readonly parameters?: readonly string[];
  /** Legacy persistent ids: ('storage', type, key, 'cpu', n, view_metadata). */
  readonly legacy?: boolean;
}

export function stateDictPickle(
  tensors: readonly (readonly [string, TensorSpec])[],
  options: StateDictOptions = {},
): Uint8Array {
  const p = new PickleWriter().proto(2);
  if (options.wrap) p.emptyDict().mark().str('epoch').int(3).str('state_dict');
  p.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const [name, t] of tensors)
    writeTensor(p.str(name), t, options.parameters?.includes(name), options.legacy);
  p.setitems();
  if (options.metadata) {
    p.emptyDict().str('_metadata').global('collections', 'OrderedDict').emptyTuple().reduce();
    p.mark().str('').emptyDict().str('version').int(1).setitem().setitems().setitem().build();
  }
  if (options.wrap) p.setitems();
  return p.stop().bytes();
}

/** A torch.save-style archive: PREFIX/data.pkl, PREFIX/data/KEY, PREFIX/version. */
export function pthArchive(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array>,
  options: { prefix?: string; deflate?: boolean; zip64?: boolean } = {},
): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  return buildZip(
    [
      { name: `${prefix}/data.pkl`, data: pickle, deflate: options.deflate },
      ...Object.entries(storages).map(([k, data]) => ({
        name: `${prefix}/data/${k}`,
        data,
        deflate: options.deflate,
      })),
      { name: `${prefix}/version`, data: new TextEncoder().encode('3\n') },
    ],
    { zip64: options.zip64 },
  );
}

/** A legacy (pre-1.6) torch.save file: magic, version, sys info, object, keys, then the storages. */
export function legacyPth(
  object: Uint8Array,
  storages: readonly (readonly [string, Uint8Array, number])[],
  options: { littleEndian?: boolean } = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  const magic = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  parts.push(
    new PickleWriter()
      .proto(2)
      .raw(0x8a, 10, ...magic)
      .stop()
      .bytes(),
  );
  parts.push(new PickleWriter().proto(2).int(1001).stop().bytes());
  const info = new PickleWriter().proto(2).emptyDict().mark().str('protocol_version').int(1001);
  info
    .str('little_endian')
    .bool(options.littleEndian ?? true)
    .setitems()
    .stop();
  parts.push(info.bytes(), object);
  const keys = new PickleWriter().proto(2).emptyList().mark();
  for (const [k] of storages) keys.str(k);
  parts.push(keys.raw(0x65).stop().bytes());
  for (const [, data, numel] of storages) {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigInt64(0, BigInt(numel), true);
    parts.push(n, data);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
