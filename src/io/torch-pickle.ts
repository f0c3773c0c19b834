// What a torch.save pickle may reference, and how its tensors are rebuilt. The allow-list below is
// the whole of it: OrderedDict, the tensor/parameter rebuild functions and the typed storage
// classes PyTorch writes (checked against a PyTorch 1.13 archive with pickletools). Any other global
// is refused by name before anything could happen. Tensors are collected with their geometry first
// and materialised (contiguous copies) once the storages' bytes are known.
import { TeeError } from '../errors.js';
import { isTuple, type PickleCallable, PickleDict, PickleList } from './pickle.js';
import { dtypeSize, type SafeDType, type SafeTensor, shapeNumel } from './safe-tensor.js';

const STORAGE_DTYPES: Record<string, SafeDType> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

export interface StorageType {
  readonly kind: 'storage-type';
  readonly name: string;
  readonly dtype: SafeDType;
}

/** A storage named by a persistent id; its bytes are bound by the archive reader. */
export interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: SafeDType;
  /** Elements in the storage as declared by the pickle. */
  readonly numel: number;
  /** First element of this storage within its root (legacy view storages); 0 otherwise. */
  readonly elementOffset: number;
  bytes?: Uint8Array;
}

export interface PendingTensor {
  readonly kind: 'pending-tensor';
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

export function isStorageType(v: unknown): v is StorageType {
  return typeof v === 'object' && v !== null && (v as StorageType).kind === 'storage-type';
}

function isStorage(v: unknown): v is StorageRef {
  return typeof v === 'object' && v !== null && (v as StorageRef).kind === 'storage';
}

function isPending(v: unknown): v is PendingTensor {
  return typeof v === 'object' && v !== null && (v as PendingTensor).kind === 'pending-tensor';
}

export class TorchPickleContext {
  readonly tensors: PendingTensor[] = [];
  constructor(readonly source: string) {}

  fail(msg: string): never {
    throw new TeeError('E_FORMAT', `${this.source}: ${msg}`);
  }

  /** Safe non-negative integer or E_FORMAT. */
  count(v: unknown, what: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      this.fail(`${what} is not a non-negative integer`);
    return v;
  }

  private ints(v: unknown, what: string): number[] {
    if (!isTuple(v)) this.fail(`${what} is not a tuple`);
    return v.map((d, i) => this.count(d, `${what}[${i}]`));
  }

  /** _rebuild_tensor(_v2)(storage, storage_offset, size, stride, ...): geometry checked against the storage. */
  rebuild(args: readonly unknown[], name: string): PendingTensor {
    const [storage, offsetArg, sizeArg, strideArg] = args;
    if (!isStorage(storage)) this.fail(`${name}: first argument is not a storage`);
    const offset = this.count(offsetArg, `${name} storage_offset`);
    const shape = this.ints(sizeArg, `${name} size`);
    const stride = this.ints(strideArg, `${name} stride`);
    if (stride.length !== shape.length)
      this.fail(`${name}: size has ${shape.length} dims, stride ${stride.length}`);
    const numel = shapeNumel(shape);
    if (numel < 0) this.fail(`${name}: size [${shape}] is too large`);
    if (numel > 0) {
      let last = offset;
      for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * stride[i]!;
      if (!Number.isSafeInteger(last) || last >= storage.numel) {
        this.fail(
          `storage ${storage.key} holds ${storage.numel} elements but a tensor of size [${shape}], stride [${stride}] at offset ${offset} needs ${last + 1}`,
        );
      }
      if (numel > storage.numel) {
        this.fail(
          `a tensor of ${numel} elements views storage ${storage.key} of ${storage.numel} (expanded views are not supported)`,
        );
      }
    }
    const t: PendingTensor = { kind: 'pending-tensor', storage, offset, shape, stride };
    this.tensors.push(t);
    return t;
  }

  private callable(name: string, arity: number[], fn: (args: readonly unknown[]) => unknown): PickleCallable {
    return {
      kind: 'pickle-callable',
      name,
      call: (args) => {
        if (!arity.includes(args.length)) this.fail(`${name} called with ${args.length} arguments`);
        return fn(args);
      },
    };
  }

  private orderedDict(items: unknown): PickleDict {
    const d = new PickleDict();
    if (items === undefined) return d;
    const list =
      items instanceof PickleList
        ? items.items
        : isTuple(items)
          ? items
          : this.fail('OrderedDict items are not a list');
    for (const pair of list) {
      const kv = pair instanceof PickleList ? pair.items : isTuple(pair) ? pair : [];
      if (kv.length !== 2 || typeof kv[0] !== 'string')
        this.fail('OrderedDict item is not a [name, value] pair');
      d.map.set(kv[0] as string, kv[1]);
    }
    return d;
  }

  /** The allow-list. Everything else is refused by name. */
  findGlobal(module: string, name: string): unknown {
    const full = `${module}.${name}`;
    switch (full) {
      case 'collections.OrderedDict':
        // Python 3 pickles OrderedDict() then SETITEMS; Python 2 passes [[key, value], ...].
        return this.callable(full, [0, 1], (a) => this.orderedDict(a[0]));
      case 'torch._utils._rebuild_tensor':
        return this.callable(full, [4], (a) => this.rebuild(a, full));
      case 'torch._utils._rebuild_tensor_v2':
        return this.callable(full, [6, 7], (a) => this.rebuild(a, full));
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return this.callable(full, full.endsWith('state') ? [4] : [3], (a) => {
          if (!isPending(a[0])) this.fail(`${full}: data is not a tensor`);
          return a[0];
        });
    }
    if (module === 'torch' && name.endsWith('Storage')) {
      const dtype = STORAGE_DTYPES[name];
      if (dtype === undefined || !Object.hasOwn(STORAGE_DTYPES, name)) {
        this.fail(`unsupported storage dtype ${full}`);
      }
      return { kind: 'storage-type', name: full, dtype } satisfies StorageType;
    }
    return this.fail(`refused pickle global ${full}`);
  }

  /** Persistent ids' common part: ('storage', StorageType, key, location, numel, ...). */
  storageFromPid(
    pid: unknown,
    length: number[],
  ): { type: StorageType; key: string; numel: number; rest: unknown[] } {
    if (!isTuple(pid) || !length.includes(pid.length) || pid[0] !== 'storage') {
      this.fail('persistent id is not a storage reference');
    }
    const [, type, key, location, numel, ...rest] = pid;
    if (!isStorageType(type)) this.fail('persistent id does not name a storage type');
    if (typeof key !== 'string' || typeof location !== 'string')
      this.fail('persistent id key/location are not strings');
    return { type, key, numel: this.count(numel, `storage ${key} size`), rest };
  }

  /** Turns the unpickled object into name → tensor, still pending. */
  stateDict(value: unknown): Map<string, PendingTensor> {
    let dict = value;
    if (dict instanceof PickleDict && dict.map.get('state_dict') instanceof PickleDict) {
      const onlyTensors = [...dict.map.values()].every(isPending);
      if (!onlyTensors) dict = dict.map.get('state_dict');
    }
    if (!(dict instanceof PickleDict)) this.fail('the checkpoint is not a dict of tensors');
    const out = new Map<string, PendingTensor>();
    for (const [k, v] of dict.map) {
      if (typeof k !== 'string') this.fail(`key ${String(k)} is not a string`);
      if (!isPending(v)) this.fail(`value of "${k}" is not a tensor`);
      out.set(k, v);
    }
    return out;
  }

  /** Contiguous copies of every tensor; storages must have their bytes bound. */
  materialize(pending: Map<string, PendingTensor>): Map<string, SafeTensor> {
    const out = new Map<string, SafeTensor>();
    for (const [name, t] of pending) {
      const bytes = t.storage.bytes;
      if (bytes === undefined) this.fail(`storage ${t.storage.key} of "${name}" has no data`);
      out.set(name, { dtype: t.storage.dtype, shape: [...t.shape], data: gather(t, bytes) });
    }
    return out;
  }
}

/** Copies the strided view [offset; shape; stride] of a storage into a new contiguous buffer. */
function gather(t: PendingTensor, storage: Uint8Array): Uint8Array {
  const es = dtypeSize(t.storage.dtype);
  const numel = shapeNumel(t.shape);
  const base = t.storage.elementOffset + t.offset;
  let contiguous = true;
  for (let i = t.shape.length - 1, expect = 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.shape[i]!;
  }
  if (contiguous || numel === 0) return storage.slice(base * es, (base + numel) * es);
  const word = es === 8 ? 4 : es;
  const per = es / word;
  const aligned = storage.byteOffset % word === 0 ? storage : storage.slice();
  const make = (b: Uint8Array) =>
    word === 1
      ? b
      : word === 2
        ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2)
        : new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const out = new Uint8Array(numel * es);
  const src = make(aligned.subarray(0, aligned.byteLength - (aligned.byteLength % word)));
  const dst = make(out);
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let pos = base;
  for (let i = 0; i < numel; i++) {
    for (let j = 0; j < per; j++) dst[i * per + j] = src[pos * per + j]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      pos += t.stride[d]!;
      if (idx[d]! < t.shape[d]!) break;
      pos -= t.stride[d]! * t.shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
