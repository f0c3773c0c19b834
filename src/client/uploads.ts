// What the client sends for `--data` and `--weights`: synthetic data travels as a spec only; a file or a
// directory of files (CIFAR-10 batches, IDX files) is uploaded into the session's group `data`, weights as
// `weights-NAME`. Upload names are plain tokens (session-messages.ts): a local name that is not one is
// rewritten. With a key file each file is an AEAD file (tee-offload encrypt) uploaded as it is and
// decrypted inside the trusted process; its name there drops a trailing `.enc`.
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { findCifar10Dir } from '../data/cifar10.js';
import { FASHION_MNIST_DIR, isIdxImagesName } from '../data/fashion-mnist.js';
import { isDataFileName } from '../data/open-dataset.js';
import { TeeError } from '../errors.js';
import { type DataRef, NAME_TOKEN } from '../protocol/session-messages.js';

/** The group every uploaded data file goes into. */
export const DATA_GROUP = 'data';

export interface UploadSpec {
  /** The name in the trusted process. */
  readonly name: string;
  /** The local file. */
  readonly path: string;
  /** A key file (keys.ts): the file is an AEAD file, decrypted inside. */
  readonly keyFile?: string;
}

export interface DataPlan {
  readonly ref: DataRef;
  readonly uploads: readonly UploadSpec[];
}

/** A local file name as an upload token: other characters become '_', a trailing .enc goes when encrypted. */
export function uploadToken(fileName: string, encrypted: boolean): string {
  let n = encrypted ? fileName.replace(/\.enc$/, '') : fileName;
  n = n.replace(/[^A-Za-z0-9._-]/g, '_');
  if (!/^[A-Za-z0-9]/.test(n)) n = `f${n}`;
  if (n.length > 128) n = n.slice(n.length - 128).replace(/^[^A-Za-z0-9]/, 'f');
  if (!NAME_TOKEN.test(n)) throw new TeeError('E_USAGE', `cannot make an upload name from '${fileName}'`);
  return n;
}

function regularFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile())
    .sort();
}

function group(files: readonly string[], keyFile: string | undefined): UploadSpec[] {
  const seen = new Set<string>();
  return files.map((path) => {
    const name = `${DATA_GROUP}/${uploadToken(basename(path), keyFile !== undefined)}`;
    if (seen.has(name)) throw new TeeError('E_USAGE', `two data files would be uploaded as ${name}`);
    seen.add(name);
    return { name, path, ...(keyFile === undefined ? {} : { keyFile }) };
  });
}

/**
 * What to send for a `--data` spec: synthetic[:N] as a spec; fashion-mnist[:PATH], cifar10:DIR or a path
 * as uploads (a directory: its files, or those of its cifar-10-batches-bin/; an IDX images file with
 * its labels file).
 */
export function planData(spec: string, keyFile?: string): DataPlan {
  const colon = spec.indexOf(':');
  const head = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? undefined : spec.slice(colon + 1);
  if (head === 'synthetic') {
    if (keyFile !== undefined)
      throw new TeeError('E_USAGE', '--data-key is for data files, not synthetic data');
    if (rest !== undefined && !/^[1-9][0-9]*$/.test(rest)) {
      throw new TeeError(
        'E_USAGE',
        `--data ${JSON.stringify(spec)}: "${rest}" is not a positive sample count`,
      );
    }
    return { ref: { kind: 'synthetic', length: rest === undefined ? 256 : Number(rest) }, uploads: [] };
  }
  let path = spec;
  if (head === 'fashion-mnist') path = rest || FASHION_MNIST_DIR;
  else if (head === 'cifar10') {
    if (!rest)
      throw new TeeError('E_USAGE', `--data ${JSON.stringify(spec)}: cifar10 needs a directory, cifar10:DIR`);
    path = rest;
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new TeeError('E_IO', `${path} does not exist`);
  }
  if (st.isDirectory()) {
    const dir = keyFile === undefined ? (findCifar10Dir(path) ?? path) : path;
    const files = regularFiles(dir);
    if (files.length === 0) throw new TeeError('E_USAGE', `${dir} holds no files to upload`);
    return { ref: { kind: 'upload', name: DATA_GROUP }, uploads: group(files, keyFile) };
  }
  const plainName = keyFile === undefined ? basename(path) : basename(path).replace(/\.enc$/, '');
  if (!isDataFileName(plainName)) {
    // Refused here, before a trusted process is started or a byte is sent: inside, it would be read by
    // this name and refused there.
    const hint =
      keyFile === undefined
        ? ''
        : `; an encrypted file is read under its name less ".enc" ("${plainName}"): name it e.g. ` +
          `${plainName}.safetensors.enc`;
    throw new TeeError(
      'E_USAGE',
      `--data ${JSON.stringify(spec)}: ${basename(path)} is not a recognised data file (a .safetensors ` +
        `batch file, an IDX images file or a CIFAR-10 .bin file)${hint}`,
    );
  }
  const files = [path];
  if (isIdxImagesName(plainName)) {
    // An IDX images file is read with its labels file beside it (…-images-idx3-… → …-labels-idx1-…).
    const labels = join(dirname(path), basename(path).replace(/images([-.])idx3/, 'labels$1idx1'));
    files.push(labels);
  }
  const uploads = group(files, keyFile);
  return { ref: { kind: 'upload', name: uploads[0]!.name }, uploads };
}

/** The upload of a weights file (`--weights`, with `--weights-key` when encrypted). */
export function planWeights(path: string, keyFile?: string): UploadSpec {
  return {
    name: `weights-${uploadToken(basename(path), keyFile !== undefined)}`.slice(0, 128),
    path,
    ...(keyFile === undefined ? {} : { keyFile }),
  };
}
