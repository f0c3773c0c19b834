// Reads model weights from any supported file: a PyTorch checkpoint (ZIP or legacy format, chosen
// by magic bytes) or safetensors. All give the same name → SafeTensor map for loadStateDict.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { TeeError } from '../errors.js';
import { parsePth } from './pth.js';
import { looksLikeLegacyPth, parseLegacyPth } from './pth-legacy.js';
import { parseSafetensors, type SafetensorsContents } from './safetensors.js';
import { looksLikeZip } from './zip.js';

export type WeightsFormat = 'pth-zip' | 'pth-legacy' | 'safetensors';

export function detectWeightsFormat(bytes: Uint8Array, path: string): WeightsFormat {
  if (looksLikeZip(bytes)) return 'pth-zip';
  if (looksLikeLegacyPth(bytes)) return 'pth-legacy';
  const ext = extname(path).toLowerCase();
  if (ext === '.pth' || ext === '.pt' || ext === '.bin' || ext === '.ckpt') {
    throw new TeeError(
      'E_FORMAT',
      `${path}: not a PyTorch checkpoint (neither the ZIP nor the legacy format)`,
    );
  }
  return 'safetensors';
}

/** Parses weights held in memory; `path` names them and its extension helps pick the format. */
export function parseWeights(
  bytes: Uint8Array,
  path: string,
): SafetensorsContents & { format: WeightsFormat } {
  const format = detectWeightsFormat(bytes, path);
  const parse = format === 'pth-zip' ? parsePth : format === 'pth-legacy' ? parseLegacyPth : parseSafetensors;
  return { ...parse(bytes, path), format };
}

export function readWeightsFile(path: string): SafetensorsContents & { format: WeightsFormat } {
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseWeights(bytes, path);
}
