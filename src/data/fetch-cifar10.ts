// Makes CIFAR-10 available under a directory: a cifar-10-batches-bin/ folder already there is verified
// (six files, each a whole number of 3073-byte records, the expected count); else an archive already
// there is MD5-verified and unpacked; else the archive is downloaded (URL overridable through
// TEE_OFFLOAD_CIFAR10_URL), verified, then unpacked. Offline, it fails fast with what to place by hand.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { TeeError } from '../errors.js';
import {
  CIFAR10_RECORD_BYTES,
  CIFAR10_SUBDIR,
  CIFAR10_TEST_FILES,
  CIFAR10_TRAIN_FILES,
  checkCifar10Records,
  findCifar10Dir,
} from './cifar10.js';
import { downloadFile } from './download.js';
import { asBytes, readBytes } from './read-file.js';
import { readTar } from './tar.js';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR10_URL_ENV = 'TEE_OFFLOAD_CIFAR10_URL';
export const CIFAR10_RECORDS_PER_FILE = 10000;

const DATA_FILES = [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES];
/** Also taken from the archive when present. */
const EXTRA_FILES = ['batches.meta.txt', 'readme.html'];

export interface FetchCifar10Options {
  /** Default: $TEE_OFFLOAD_CIFAR10_URL, else CIFAR10_URL. */
  readonly url?: string;
  /** Expected MD5 of the archive (hex); default CIFAR10_MD5. */
  readonly md5?: string;
  /** Expected records in each of the six .bin files; default 10000. */
  readonly recordsPerFile?: number;
  /** Connect and stall timeout of the download, ms (default 15000). */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface FetchCifar10Result {
  /** The folder holding data_batch_1..5.bin and test_batch.bin. */
  readonly dir: string;
  /** What was found: the unpacked folder, the archive (now unpacked), or neither (downloaded). */
  readonly source: 'folder' | 'archive' | 'download';
  readonly message: string;
}

/** Checks the six files' presence, record framing and counts; returns the total record count. */
export function verifyCifar10Folder(dir: string, recordsPerFile = CIFAR10_RECORDS_PER_FILE): number {
  const missing = DATA_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0)
    throw new TeeError('E_IO', `CIFAR-10 folder ${dir} is incomplete: missing ${missing.join(', ')}`);
  let total = 0;
  for (const f of DATA_FILES) {
    const p = join(dir, f);
    const size = statSync(p).size;
    if (size % CIFAR10_RECORD_BYTES !== 0 || size / CIFAR10_RECORD_BYTES !== recordsPerFile) {
      throw new TeeError(
        'E_FORMAT',
        `${p}: ${size} bytes, expected ${recordsPerFile} records of ${CIFAR10_RECORD_BYTES} bytes (${recordsPerFile * CIFAR10_RECORD_BYTES}); delete the folder and fetch again`,
      );
    }
    total += size / CIFAR10_RECORD_BYTES;
  }
  return total;
}

async function md5OfFile(path: string): Promise<string> {
  const hash = createHash('md5');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Uint8Array);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return hash.digest('hex');
}

/** Unpacks the data files of a verified archive into dir/cifar-10-batches-bin/ (only known names). */
async function unpack(archive: string, dir: string): Promise<string> {
  const packed = readBytes(archive);
  let tar: Uint8Array;
  try {
    tar = asBytes(await promisify(gunzip)(packed));
  } catch (e) {
    throw new TeeError('E_FORMAT', `${archive}: corrupt gzip stream (${(e as Error).message})`, { cause: e });
  }
  const found = new Map<string, Uint8Array>();
  for (const entry of readTar(tar, archive)) {
    const name = basename(entry.name);
    // Only known file names are written, so the archive cannot place files anywhere else.
    if (entry.type === 'file' && [...DATA_FILES, ...EXTRA_FILES].includes(name)) found.set(name, entry.data);
  }
  const missing = DATA_FILES.filter((f) => !found.has(f));
  if (missing.length > 0)
    throw new TeeError('E_FORMAT', `${archive}: the archive lacks ${missing.join(', ')}`);
  for (const f of DATA_FILES) checkCifar10Records(found.get(f)!, `${archive}:${f}`);
  const out = join(dir, CIFAR10_SUBDIR);
  try {
    mkdirSync(out, { recursive: true });
    for (const [name, data] of found) {
      const tmp = join(out, `.${name}.part`);
      writeFileSync(tmp, data);
      renameSync(tmp, join(out, name));
    }
  } catch (e) {
    throw new TeeError('E_IO', `cannot write ${out}: ${(e as Error).message}`, { cause: e });
  }
  return out;
}

/** Finds, verifies, or downloads and unpacks CIFAR-10 (binary version) under `dir`. */
export async function fetchCifar10(dir: string, opts: FetchCifar10Options = {}): Promise<FetchCifar10Result> {
  const url = opts.url ?? process.env[CIFAR10_URL_ENV] ?? CIFAR10_URL;
  const md5 = (opts.md5 ?? CIFAR10_MD5).toLowerCase();
  const perFile = opts.recordsPerFile ?? CIFAR10_RECORDS_PER_FILE;
  const log = opts.log ?? (() => {});
  const counts = (n: number): string => `${n} records in ${DATA_FILES.length} files`;

  const folder = findCifar10Dir(dir);
  if (folder !== undefined) {
    const n = verifyCifar10Folder(folder, perFile);
    return {
      dir: folder,
      source: 'folder',
      message: `CIFAR-10 already present in ${folder}: verified ${counts(n)}`,
    };
  }

  const archive = join(dir, CIFAR10_ARCHIVE);
  if (existsSync(archive)) {
    const got = await md5OfFile(archive);
    if (got !== md5) {
      throw new TeeError(
        'E_FORMAT',
        `${archive} has MD5 ${got}, expected ${md5}: the archive is damaged or incomplete; delete it and fetch again`,
      );
    }
    log(`${archive}: MD5 verified, unpacking`);
    const out = await unpack(archive, dir);
    const n = verifyCifar10Folder(out, perFile);
    return {
      dir: out,
      source: 'archive',
      message: `CIFAR-10 archive already present (MD5 verified), unpacked ${counts(n)} into ${out}`,
    };
  }

  const created = !existsSync(dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TeeError('E_IO', `cannot create ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const part = `${archive}.part`;
  const cleanUp = (): void => {
    rmSync(part, { force: true });
    if (created) rmSync(dir, { recursive: true, force: true });
  };
  log(`downloading ${url}`);
  let result: { bytes: number; md5: string };
  try {
    result = await downloadFile(url, part, opts.timeoutMs ?? 15000);
  } catch (e) {
    cleanUp();
    throw new TeeError(
      'E_IO',
      `cannot download CIFAR-10 from ${url} (${(e as Error).message}); without network, download it elsewhere and place ${CIFAR10_ARCHIVE} (MD5 ${md5}) in ${dir}, or its unpacked ${CIFAR10_SUBDIR}/ folder`,
      { cause: e },
    );
  }
  if (result.md5 !== md5) {
    cleanUp();
    throw new TeeError(
      'E_FORMAT',
      `download from ${url} has MD5 ${result.md5}, expected ${md5} (${result.bytes} bytes); nothing was kept, try again`,
    );
  }
  renameSync(part, archive);
  log(`${archive}: ${result.bytes} bytes, MD5 verified, unpacking`);
  const out = await unpack(archive, dir);
  const n = verifyCifar10Folder(out, perFile);
  return {
    dir: out,
    source: 'download',
    message: `CIFAR-10 downloaded from ${url} (MD5 verified), unpacked ${counts(n)} into ${out}`,
  };
}
