// PyTorch checkpoints in the ZIP format torch.save writes since 1.6: ARCHIVE/data.pkl (a pickle,
// protocol 2, read with the restricted unpickler), ARCHIVE/data/<key> (raw little-endian storages),
// ARCHIVE/version. Produces the same name → SafeTensor map as the safetensors reader, every tensor
// a contiguous copy in its stored dtype. Anything unexpected is E_FORMAT; nothing is executed.
import { readFileSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { unpickle } from './pickle.js';
import { dtypeSize } from './safe-tensor.js';
import type { SafetensorsContents } from './safetensors.js';
import { type StorageRef, TorchPickleContext } from './torch-pickle.js';
import { openZip, readZipEntry, type ZipArchive } from './zip.js';

/** The largest data.pkl accepted; a state dict's pickle is a few hundred bytes per tensor. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

function findRecord(zip: ZipArchive, ctx: TorchPickleContext): string {
  const roots = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (roots.length !== 1) {
    ctx.fail(
      roots.length === 0 ? 'no ARCHIVE/data.pkl: not a PyTorch checkpoint' : 'several data.pkl records',
    );
  }
  return roots[0]!.slice(0, -'data.pkl'.length);
}

/** Parses a torch.save ZIP archive held in memory; `source` names it in error messages. */
export function parsePth(input: Uint8Array, source = 'pth archive'): SafetensorsContents {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const zip = openZip(bytes, source);
  const ctx: TorchPickleContext = new TorchPickleContext(source);
  const prefix = findRecord(zip, ctx);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order !== undefined) {
    const text = new TextDecoder().decode(readZipEntry(zip, order, { maxBytes: 16 })).trim();
    if (text !== 'little') ctx.fail(`byte order "${text}" is not supported`);
  }
  const pkl = readZipEntry(zip, zip.entries.get(`${prefix}data.pkl`)!, { maxBytes: MAX_PICKLE_BYTES });

  const storages = new Map<string, StorageRef>();
  const { value, end } = unpickle(
    pkl,
    {
      findGlobal: (m, n) => ctx.findGlobal(m, n),
      persistentLoad: (pid) => {
        const { type, key, numel } = ctx.storageFromPid(pid, [5]);
        const seen = storages.get(key);
        if (seen !== undefined) {
          if (seen.dtype !== type.dtype || seen.numel !== numel)
            ctx.fail(`storage ${key} is declared twice differently`);
          return seen;
        }
        const entry = zip.entries.get(`${prefix}data/${key}`);
        if (entry === undefined) ctx.fail(`storage ${key} has no data/${key} record`);
        if (entry.size !== numel * dtypeSize(type.dtype)) {
          ctx.fail(
            `storage ${key} holds ${entry.size} bytes, ${numel} × ${type.dtype} needs ${numel * dtypeSize(type.dtype)}`,
          );
        }
        const ref: StorageRef = { kind: 'storage', key, dtype: type.dtype, numel, elementOffset: 0 };
        storages.set(key, ref);
        return ref;
      },
    },
    `${source}: data.pkl`,
  );
  if (end !== pkl.length) ctx.fail(`data.pkl has ${pkl.length - end} bytes after STOP`);
  const pending = ctx.stateDict(value);
  for (const [key, ref] of storages) ref.bytes = readZipEntry(zip, zip.entries.get(`${prefix}data/${key}`)!);
  return { tensors: ctx.materialize(pending), metadata: {} };
}

export function readPthFile(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parsePth(bytes, path);
}
