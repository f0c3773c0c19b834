// Sealed files (checkpoints, state the trusted process keeps on untrusted disk): the AEAD file format
// of aead-file.ts with the "sealed" flag, under a key only this enclave can derive. Under gramine-sgx
// the key comes from Gramine's MRENCLAVE sealing key; under `direct`/`gramine-direct` there is no
// enclave, so a local key file stands in: those files carry the INSECURE flag and a warning is given.
// Files are written atomically (temp file, fsync, rename): a crash leaves the previous version.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { decryptBuffer, encryptBuffer, parseAeadFileHeader } from './aead-file.js';
import { hkdfInfo, hkdfSha256 } from './hkdf.js';
import { asBytes, keyId, readKeyFile, wipe } from './keys.js';

/** Where Gramine exposes the SGX sealing key bound to MRENCLAVE (16 bytes, from EGETKEY). */
export const GRAMINE_MRENCLAVE_KEY_PATH = '/dev/attestation/keys/_sgx_mrenclave';
const SGX_SEAL_KEY_BYTES = 16;

export type SealingKind = 'sgx-mrenclave' | 'direct-insecure';

export interface SealingKeyProvider {
  readonly kind: SealingKind;
  /** True when the key is not bound to an enclave: sealed files say INSECURE in their header. */
  readonly insecure: boolean;
  /** The public label written in sealed files' headers. */
  readonly keyId: string;
  /** A fresh copy of the 32-byte sealing key; the caller wipes it. */
  key(): Uint8Array;
}

/**
 * The sealing key under gramine-sgx: HKDF-SHA256 of Gramine's 128-bit MRENCLAVE sealing key
 * (only this enclave build, on this CPU, can derive it), labelled "tee-offload/v1 sealing mrenclave".
 * Runs only inside a Gramine SGX enclave; `path` is for tests.
 */
export function sgxSealingKeyProvider(path = GRAMINE_MRENCLAVE_KEY_PATH): SealingKeyProvider {
  return {
    kind: 'sgx-mrenclave',
    insecure: false,
    keyId: 'sgx-mrenclave',
    key() {
      const raw = new Uint8Array(SGX_SEAL_KEY_BYTES + 1);
      let n = 0;
      try {
        const fd = openSync(path, 'r');
        try {
          for (let r = 1; r > 0 && n < raw.length; n += r) r = readSync(fd, raw, n, raw.length - n, null);
        } finally {
          closeSync(fd);
        }
      } catch (e) {
        wipe(raw);
        throw new TeeError(
          'E_IO',
          `cannot read the SGX sealing key at ${path} (not inside gramine-sgx?): ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      try {
        if (n !== SGX_SEAL_KEY_BYTES) {
          throw new TeeError(
            'E_IO',
            `the SGX sealing key at ${path} has ${n} bytes, expected ${SGX_SEAL_KEY_BYTES}`,
          );
        }
        return hkdfSha256(
          raw.subarray(0, SGX_SEAL_KEY_BYTES),
          new Uint8Array(0),
          hkdfInfo('sealing mrenclave'),
          32,
        );
      } finally {
        wipe(raw);
      }
    },
  };
}

/**
 * The stand-in under `direct` and `gramine-direct`: a local key file (keys.ts format). Anyone who can
 * read that file can unseal, so sealed files are flagged INSECURE and a warning is given once.
 */
export function directSealingKeyProvider(
  keyFile: string,
  onWarning: (message: string) => void = (m) =>
    process.emitWarning(m, { code: 'TEE_OFFLOAD_INSECURE_SEALING' }),
): SealingKeyProvider {
  const probe = readKeyFile(keyFile, { onWarning });
  const id = keyId(probe);
  wipe(probe);
  onWarning(
    `sealing with the key file ${keyFile} (no enclave): sealed files are INSECURE, anyone who can read the key file can unseal them`,
  );
  return {
    kind: 'direct-insecure',
    insecure: true,
    keyId: `INSECURE-direct-${id}`,
    key: () => readKeyFile(keyFile, { onWarning }),
  };
}

export type Launcher = 'direct' | 'gramine-direct' | 'gramine-sgx';

/** The provider a launcher implies: the MRENCLAVE key under gramine-sgx, `keyFile` otherwise. */
export function sealingKeyProviderFor(
  launcher: Launcher,
  keyFile?: string,
  onWarning?: (message: string) => void,
): SealingKeyProvider {
  if (launcher === 'gramine-sgx') return sgxSealingKeyProvider();
  if (keyFile === undefined)
    throw new TypeError(`sealing under ${launcher} needs a key file (there is no enclave key)`);
  return directSealingKeyProvider(keyFile, onWarning);
}

/** Seals bytes in memory (AEAD file format, sealed flag, INSECURE flag under `direct`). */
export function sealBytes(bytes: Uint8Array, provider: SealingKeyProvider): Uint8Array {
  const key = provider.key();
  try {
    return encryptBuffer(key, bytes, { sealed: true, insecureKey: provider.insecure, keyId: provider.keyId });
  } finally {
    wipe(key);
  }
}

/** Unseals bytes sealed by sealBytes/sealFile: E_FORMAT when not sealed, E_AUTH when tampered or another key. */
export function unsealBytes(
  sealed: Uint8Array,
  provider: SealingKeyProvider,
  source = 'sealed data',
): Uint8Array {
  const h = parseAeadFileHeader(sealed, source);
  if (!h.sealed) throw new TeeError('E_FORMAT', `${source} is an encrypted file but not a sealed one`);
  if (h.insecureKey && !provider.insecure) {
    throw new TeeError(
      'E_AUTH',
      `${source} was sealed with an INSECURE key file (no enclave); refusing it under SGX`,
    );
  }
  if (!h.insecureKey && provider.insecure) {
    throw new TeeError(
      'E_AUTH',
      `${source} was sealed inside an SGX enclave; only that enclave can unseal it`,
    );
  }
  const key = provider.key();
  try {
    return decryptBuffer(key, sealed, source, provider.insecure ? { expectedKeyId: provider.keyId } : {});
  } finally {
    wipe(key);
  }
}

/** Seals `bytes` into `path` atomically (temp file, fsync, rename). */
export function sealFile(path: string, bytes: Uint8Array, provider: SealingKeyProvider): void {
  writeFileAtomic(path, [sealBytes(bytes, provider)]);
}

/** Reads and unseals `path`; the plaintext is returned only once every chunk verified. */
export function unsealFile(path: string, provider: SealingKeyProvider): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = asBytes(readFileSync(path));
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return unsealBytes(bytes, provider, path);
}
