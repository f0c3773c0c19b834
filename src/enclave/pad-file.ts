// Pad files for blinded split-mode inference (DESIGN.md "Privacy", docs/integrity.md "Privacy"):
// `tee-offload precompute` records every conv/linear layer's forward product at a fixed input shape,
// makes a PadSet per layer (labels as useRemoteLinearOps assigns them, weights quantized exactly as
// RemoteLinearOps quantizes them for a pad set: nearest rounding at the set's weightBits), and stores
// all sets in one file encrypted with chunked AES-256-GCM under a key file. The GCM tags are the MAC:
// decryption refuses a flipped byte or another key with E_AUTH before anything is parsed (in the trusted
// process the session store decrypts an upload sent with --pads-key). Inside the authenticated
// plaintext each set carries an HMAC-SHA256 tag under a random per-file key stored in the (encrypted)
// header: a consistency check that PadSet.deserialize verifies before parsing, not a second secret.
//
// Use-once rule: a pad file carries a random file id; a PadLedger records the ids of files whose pads
// were handed to a session, and a file whose id is in the ledger is refused (E_STATE). Within a
// session each PadSet hands out each pad once (PadSet.take). Limits: the ledger is only as good as
// its storage — a rolled-back ledger file (or a fresh trusted process without one) accepts the file
// again; that is the storage layer's concern (sealed, monotonic storage), not this module's.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { ConvParams, LinearOps } from '../kernels/linear-ops.js';
import { Layer } from '../nn/layer.js';
import type { Module } from '../nn/module.js';
import { predict } from '../nn/train-step.js';
import { decryptBuffer, encryptBuffer } from '../secure/aead-file.js';
import { type SealingKeyProvider, sealFile, unsealFile } from '../secure/seal.js';
import { Tensor } from '../tensor/tensor.js';
import { type MacHook, PadSet, type PadSpec } from '../verify/blinding.js';
import { CryptoRng } from '../verify/crypto-rng.js';
import { DEFAULT_MODULUS, halfModulus } from '../verify/field.js';
import { bNorms, lengthInflation } from '../verify/operand-norms.js';
import { type ProductGeometry, productGeometry } from '../verify/product-geometry.js';
import { DEFAULT_QUANT_CONFIG, quantizeTensor } from '../verify/quantize.js';

const FILE_MAGIC = 'TEEPADF1';

/** One forward product a layer makes at the recorded input shape. */
export interface RecordedProduct {
  readonly label: string;
  readonly op: 'dense' | 'conv2d';
  readonly inputShape: number[];
  readonly weightShape: number[];
  readonly stride: number;
  readonly padding: number;
  /** The weight tensor's values as the layer passes them to its LinearOps. */
  readonly weight: Float32Array;
}

/**
 * Runs one eval-mode forward of zeros of `inputShape` with a recording LinearOps on every layer
 * (labelled as useRemoteLinearOps labels them) and returns each layer's forward product, in order.
 * The model's own LinearOps are restored afterwards.
 */
export async function recordForwardProducts(
  model: Module,
  inputShape: readonly number[],
  rootLabel = 'model',
): Promise<RecordedProduct[]> {
  const out: RecordedProduct[] = [];
  const seen = new Set<string>();
  const restore: [Layer, LinearOps][] = [];
  const record = (label: string, r: RecordedProduct): void => {
    if (seen.has(label)) {
      throw new TeeError(
        'E_STATE',
        `layer '${label}' makes more than one forward product; one pad set per layer cannot cover it`,
      );
    }
    seen.add(label);
    out.push(r);
  };
  const visit = (m: Module, path: string): void => {
    if (m instanceof Layer) {
      const inner = m.linearOps;
      const label = path === '' ? rootLabel : path;
      restore.push([m, inner]);
      m.linearOps = recordingOps(inner, label, record);
    }
    for (const [name, child] of m.namedChildren()) visit(child, path === '' ? name : `${path}.${name}`);
  };
  visit(model, '');
  try {
    await predict(model, new Tensor([...inputShape]));
  } finally {
    for (const [layer, ops] of restore) layer.linearOps = ops;
  }
  return out;
}

function recordingOps(
  inner: LinearOps,
  label: string,
  record: (label: string, r: RecordedProduct) => void,
): LinearOps {
  return {
    name: `recording(${inner.name})[${label}]`,
    dense(x: Tensor, w: Tensor) {
      record(label, {
        label,
        op: 'dense',
        inputShape: [...x.shape],
        weightShape: [...w.shape],
        stride: 0,
        padding: 0,
        weight: w.data.slice(),
      });
      return inner.dense(x, w);
    },
    conv2d(x: Tensor, w: Tensor, p: ConvParams) {
      record(label, {
        label,
        op: 'conv2d',
        inputShape: [...x.shape],
        weightShape: [...w.shape],
        stride: p.stride,
        padding: p.padding,
        weight: w.data.slice(),
      });
      return inner.conv2d(x, w, p);
    },
    denseGradInput: (dy, w) => inner.denseGradInput(dy, w),
    denseGradWeight: (dy, x) => inner.denseGradWeight(dy, x),
    conv2dGradInput: (dy, w, p, hw) => inner.conv2dGradInput(dy, w, p, hw),
    conv2dGradWeight: (dy, x, p, k) => inner.conv2dGradWeight(dy, x, p, k),
  };
}

function geometryOf(r: { op: 'dense' | 'conv2d' } & Omit<PadSpec, 'label' | 'weightBits' | 'p'>) {
  return productGeometry(r.op, r.inputShape, r.weightShape, { stride: r.stride, padding: r.padding });
}

/**
 * The weights' scale bits for a pad set: fixed for the set's lifetime, so they cannot adapt to the
 * activations. The no-wrap budget ‖q_x‖₂·‖q_w‖₂ ≤ (p−1)/2 is split evenly: the largest weight vector
 * gets ‖q_w‖₂ ≤ √((p−1)/2), leaving the same to the activations (whose scale still adapts per call).
 */
export function padWeightBits(g: ProductGeometry, w: Float32Array, p = DEFAULT_MODULUS): number {
  const n = bNorms(g, w);
  const budget = Math.sqrt(halfModulus(p));
  let bits = DEFAULT_QUANT_CONFIG.weightBits;
  const norm = (s: number) => (2 ** s * Math.sqrt(n.l2sq) + 0.5 * Math.sqrt(n.len)) * lengthInflation(n.len);
  while (bits > -64 && norm(bits) > budget) bits--;
  return bits;
}

/** HMAC-SHA256 MAC hook under `macKey` (label-separated). */
export function padMacHook(macKey: Uint8Array): MacHook {
  const k = createHmac('sha256', macKey).update('tee-offload/pads/mac/v1').digest();
  return {
    tagLength: 32,
    tag: (data) => new Uint8Array(createHmac('sha256', k).update(data).digest()),
    verify: (data, tag) => {
      const want = createHmac('sha256', k).update(data).digest();
      return tag.length === want.length && timingSafeEqual(want, tag);
    },
  };
}

export interface PadFileHeader {
  readonly version: 1;
  /** Random, per file: the ledger's key. */
  readonly fileId: string;
  /** Random, per file (hex): the sets' MAC hook key (inside the encrypted, authenticated plaintext). */
  readonly macKey: string;
  readonly model: string;
  readonly inputShape: number[];
  readonly count: number;
  readonly layers: { label: string; bytes: number }[];
}

export interface PadFileContents {
  readonly header: PadFileHeader;
  readonly sets: Map<string, PadSet>;
}

/** Makes a pad set for every recorded product, `count` pads each. */
export function makePadSets(products: readonly RecordedProduct[], count: number, rng = new CryptoRng()) {
  const sets = new Map<string, PadSet>();
  for (const r of products) {
    const g = geometryOf(r);
    const bits = padWeightBits(g, r.weight);
    // Exactly RemoteLinearOps.padFor's quantization, so that the digest matches.
    const wq = quantizeTensor(r.weight, bits, 'nearest', { p: DEFAULT_MODULUS });
    const spec: PadSpec = {
      label: r.label,
      op: r.op,
      inputShape: r.inputShape,
      weightShape: r.weightShape,
      stride: r.stride,
      padding: r.padding,
      weightBits: bits,
      p: DEFAULT_MODULUS,
    };
    sets.set(r.label, PadSet.generate(spec, wq, count, rng));
  }
  return sets;
}

/** Serializes and encrypts all sets into one pad file (bytes). */
export function encodePadFile(
  key: Uint8Array,
  info: { model: string; inputShape: readonly number[]; count: number },
  sets: ReadonlyMap<string, PadSet>,
): Uint8Array {
  const macKey = randomBytes(32);
  const mac = padMacHook(macKey);
  const parts: Uint8Array[] = [];
  const layers: { label: string; bytes: number }[] = [];
  for (const [label, set] of sets) {
    const b = set.serialize(mac);
    parts.push(b);
    layers.push({ label, bytes: b.length });
  }
  const header: PadFileHeader = {
    version: 1,
    fileId: randomBytes(16).toString('hex'),
    macKey: macKey.toString('hex'),
    model: info.model,
    inputShape: [...info.inputShape],
    count: info.count,
    layers,
  };
  const h = new TextEncoder().encode(JSON.stringify(header));
  const total = FILE_MAGIC.length + 4 + h.length + parts.reduce((s, p) => s + p.length, 0);
  const plain = new Uint8Array(total);
  plain.set(new TextEncoder().encode(FILE_MAGIC), 0);
  new DataView(plain.buffer).setUint32(FILE_MAGIC.length, h.length, true);
  plain.set(h, FILE_MAGIC.length + 4);
  let at = FILE_MAGIC.length + 4 + h.length;
  for (const p of parts) {
    plain.set(p, at);
    at += p.length;
  }
  try {
    return encryptBuffer(key, plain);
  } finally {
    plain.fill(0);
  }
}

/** Writes the encrypted pad file atomically. */
export function writePadFile(path: string, encrypted: Uint8Array): void {
  writeFileAtomic(path, [encrypted]);
}

/** Decrypts (E_AUTH for a tampered file or another key), then decodePadPlaintext. */
export function decodePadFile(key: Uint8Array, encrypted: Uint8Array, source = 'pad file'): PadFileContents {
  const plain = decryptBuffer(key, encrypted, source);
  try {
    return decodePadPlaintext(plain, source);
  } finally {
    plain.fill(0);
  }
}

/** Parses (E_FORMAT) a decrypted pad file; every set's MAC is verified before it is parsed (E_AUTH). */
export function decodePadPlaintext(plain: Uint8Array, source = 'pad file'): PadFileContents {
  const bad = (why: string) => new TeeError('E_FORMAT', `${source}: ${why}`);
  if (plain.length < FILE_MAGIC.length + 4) throw bad('truncated');
  if (new TextDecoder().decode(plain.subarray(0, FILE_MAGIC.length)) !== FILE_MAGIC)
    throw bad('not a pad file');
  const hlen = new DataView(plain.buffer, plain.byteOffset).getUint32(FILE_MAGIC.length, true);
  if (FILE_MAGIC.length + 4 + hlen > plain.length) throw bad('header runs past the end');
  let header: PadFileHeader;
  try {
    header = JSON.parse(
      new TextDecoder().decode(plain.subarray(FILE_MAGIC.length + 4, FILE_MAGIC.length + 4 + hlen)),
    ) as PadFileHeader;
  } catch {
    throw bad('header is not JSON');
  }
  if (
    header === null ||
    header.version !== 1 ||
    typeof header.fileId !== 'string' ||
    typeof header.macKey !== 'string' ||
    !/^[0-9a-f]{64}$/.test(header.macKey) ||
    !Array.isArray(header.layers)
  )
    throw bad('unsupported header');
  const mac = padMacHook(Buffer.from(header.macKey, 'hex'));
  const sets = new Map<string, PadSet>();
  let at = FILE_MAGIC.length + 4 + hlen;
  for (const l of header.layers) {
    if (!Number.isInteger(l.bytes) || l.bytes < 0 || at + l.bytes > plain.length)
      throw bad(`layer '${l.label}' runs past the end`);
    const set = PadSet.deserialize(plain.slice(at, at + l.bytes), mac);
    if (set.spec.label !== l.label) throw bad(`layer '${l.label}' holds the set of '${set.spec.label}'`);
    sets.set(l.label, set);
    at += l.bytes;
  }
  if (at !== plain.length) throw bad('trailing bytes');
  return { header, sets };
}

/**
 * Checks that the pad sets cover exactly the model's forward products at `inputShape` with these
 * weights (E_STATE otherwise: another model, other weights, another input shape).
 */
export async function checkPadsMatch(
  model: Module,
  inputShape: readonly number[],
  sets: ReadonlyMap<string, PadSet>,
): Promise<void> {
  const products = await recordForwardProducts(model, inputShape);
  for (const r of products) {
    const set = sets.get(r.label);
    if (set === undefined)
      throw new TeeError('E_STATE', `the pad file has no pad set for layer '${r.label}'`);
    const wq = quantizeTensor(r.weight, set.spec.weightBits, 'nearest', { p: DEFAULT_MODULUS });
    if (!set.matches(wq, set.spec.weightBits)) {
      throw new TeeError(
        'E_STATE',
        `the pad file was made for other weights (layer '${r.label}'); run tee-offload precompute again`,
      );
    }
  }
}

/**
 * The ids of pad files whose pads were handed out: a file seen before is refused (E_STATE). With a
 * path (the checkpoint directory) and a sealing key the ledger persists, sealed, across processes.
 */
export class PadLedger {
  readonly #ids = new Set<string>();
  constructor(
    private readonly path?: string,
    private readonly sealing?: SealingKeyProvider,
  ) {
    if (path !== undefined && sealing !== undefined && existsSync(path)) {
      const text = new TextDecoder().decode(unsealFile(path, sealing));
      const ids = JSON.parse(text) as unknown;
      if (!Array.isArray(ids)) throw new TeeError('E_FORMAT', `${path}: not a pad ledger`);
      for (const id of ids) if (typeof id === 'string') this.#ids.add(id);
    }
  }

  has(fileId: string): boolean {
    return this.#ids.has(fileId);
  }

  /** Records `fileId` as consumed (before any of its pads is used); E_STATE if it already was. */
  claim(fileId: string): void {
    if (this.#ids.has(fileId)) {
      throw new TeeError(
        'E_STATE',
        `pad file ${fileId} was already used; one-time pads are never reused — run tee-offload precompute again`,
      );
    }
    this.#ids.add(fileId);
    if (this.path !== undefined && this.sealing !== undefined) {
      sealFile(this.path, new TextEncoder().encode(JSON.stringify([...this.#ids])), this.sealing);
    }
  }
}
