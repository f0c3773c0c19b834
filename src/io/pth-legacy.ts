// PyTorch's legacy (pre-1.6, non-ZIP) checkpoint format, still used by older torchvision weights:
// five pickles back to back — magic number, protocol version 1001, system info, the object (storages
// as persistent ids), the sorted storage keys — then each storage as an int64 element count and its
// raw little-endian bytes. Read with the same restricted unpickler and allow-list as the ZIP format.
import { isTuple, PickleDict, PickleList, unpickle } from './pickle.js';
import { dtypeSize } from './safe-tensor.js';
import type { SafetensorsContents } from './safetensors.js';
import { type StorageRef, TorchPickleContext } from './torch-pickle.js';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** The first bytes of a legacy checkpoint: PROTO 2, LONG1 of 10 bytes holding the magic number. */
export function looksLikeLegacyPth(bytes: Uint8Array): boolean {
  const head = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  return bytes.length >= head.length && head.every((b, i) => bytes[i] === b);
}

export function parseLegacyPth(input: Uint8Array, source = 'legacy pth'): SafetensorsContents {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const ctx: TorchPickleContext = new TorchPickleContext(source);
  const plain = { findGlobal: (m: string, n: string) => ctx.fail(`refused pickle global ${m}.${n}`) };
  let pos = 0;
  const next = (hooks: Parameters<typeof unpickle>[1], what: string): unknown => {
    const r = unpickle(bytes, hooks, `${source}: ${what}`, pos);
    pos = r.end;
    return r.value;
  };

  if (next(plain, 'magic number') !== MAGIC) ctx.fail('invalid magic number: not a PyTorch checkpoint');
  const version = next(plain, 'protocol version');
  if (version !== PROTOCOL_VERSION) ctx.fail(`unsupported legacy protocol version ${String(version)}`);
  const sysInfo = next(plain, 'system info');
  if (!(sysInfo instanceof PickleDict) || sysInfo.map.get('little_endian') !== true) {
    ctx.fail('checkpoint was not written on a little-endian machine');
  }

  const roots = new Map<string, StorageRef>();
  const views: StorageRef[] = [];
  const value = next(
    {
      findGlobal: (m, n) => ctx.findGlobal(m, n),
      persistentLoad: (pid) => {
        const { type, key, numel, rest } = ctx.storageFromPid(pid, [6]);
        let root = roots.get(key);
        if (root === undefined) {
          root = { kind: 'storage', key, dtype: type.dtype, numel, elementOffset: 0 };
          roots.set(key, root);
        } else if (root.dtype !== type.dtype || root.numel !== numel)
          ctx.fail(`storage ${key} is declared twice differently`);
        const view = rest[0];
        if (view === null) return root;
        if (!isTuple(view) || view.length !== 3 || typeof view[0] !== 'string')
          ctx.fail(`bad view of storage ${key}`);
        const offset = ctx.count(view[1], `view offset of storage ${key}`);
        const size = ctx.count(view[2], `view size of storage ${key}`);
        if (offset + size > numel) ctx.fail(`view ${view[0]} runs past storage ${key}`);
        const ref: StorageRef = {
          kind: 'storage',
          key,
          dtype: type.dtype,
          numel: size,
          elementOffset: offset,
        };
        views.push(ref);
        return ref;
      },
    },
    'object',
  );
  const pending = ctx.stateDict(value);
  const keys = next(plain, 'storage keys');
  if (!(keys instanceof PickleList) || !keys.items.every((k) => typeof k === 'string')) {
    ctx.fail('storage key list is not a list of strings');
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys.items as string[]) {
    const root = roots.get(key);
    if (root === undefined) ctx.fail(`storage key ${key} is not used by the object`);
    if (root.bytes !== undefined) ctx.fail(`storage ${key} is listed twice`);
    if (pos + 8 > bytes.length) ctx.fail(`truncated before storage ${key}`);
    const n = view.getBigInt64(pos, true);
    if (n !== BigInt(root.numel))
      ctx.fail(`storage ${key} holds ${n} elements, the object declares ${root.numel}`);
    const len = root.numel * dtypeSize(root.dtype);
    if (pos + 8 + len > bytes.length) ctx.fail(`truncated in storage ${key}`);
    root.bytes = bytes.subarray(pos + 8, pos + 8 + len);
    pos += 8 + len;
  }
  if (pos !== bytes.length) ctx.fail(`${bytes.length - pos} bytes after the last storage`);
  for (const v of views) v.bytes = roots.get(v.key)!.bytes;
  return { tensors: ctx.materialize(pending), metadata: {} };
}
