import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SyntheticDataset } from '../../src/data/synthetic.js';
import { isTeeError } from '../../src/errors.js';
import { createModel } from '../../src/models/index.js';
import type { Module } from '../../src/nn/module.js';
import { encryptBuffer, parseAeadFileHeader } from '../../src/secure/aead-file.js';
import { generateKey, keyId, writeKeyFile } from '../../src/secure/keys.js';
import {
  directSealingKeyProvider,
  type SealingKeyProvider,
  sealBytes,
  sealFile,
  sealingKeyProviderFor,
  sgxSealingKeyProvider,
  unsealBytes,
  unsealFile,
} from '../../src/secure/seal.js';
import type { Reporter } from '../../src/train/progress.js';
import { runTraining, type TrainSettings } from '../../src/train/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-seal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function code(c: string, message?: string | RegExp) {
  return (e: unknown) => {
    assert.ok(isTeeError(e), `expected TeeError ${c}, got ${e}`);
    assert.equal(e.code, c, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

function keyFile(name: string): { path: string; id: string } {
  const path = join(dir, name);
  const key = generateKey();
  writeKeyFile(path, key);
  return { path, id: keyId(key) };
}

const warnings: string[] = [];
const kf = keyFile('seal.key');
const direct = directSealingKeyProvider(kf.path, (m) => warnings.push(m));

/** A stand-in for Gramine's /dev/attestation/keys/_sgx_mrenclave: 16 random bytes. */
function sgxStandIn(name: string, bytes = 16): SealingKeyProvider {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(bytes), { mode: 0o600 });
  return sgxSealingKeyProvider(path);
}

describe('sealing', () => {
  test('the direct provider warns that sealed files are INSECURE and labels them so in the header', () => {
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /INSECURE/);
    const sealed = sealBytes(Uint8Array.of(1, 2, 3), direct);
    const h = parseAeadFileHeader(sealed);
    assert.equal(h.sealed, true);
    assert.equal(h.insecureKey, true);
    assert.equal(h.keyId, `INSECURE-direct-${kf.id}`);
    assert.equal(direct.kind, 'direct-insecure');
  });

  test('sealFile/unsealFile round-trip, atomically and with no temp file left', () => {
    const path = join(dir, 'state.sealed');
    const data = new Uint8Array(randomBytes(3 * 1024 * 1024 + 5));
    sealFile(path, data, direct);
    assert.deepEqual(unsealFile(path, direct), data);
    const next = new Uint8Array(randomBytes(10));
    sealFile(path, next, direct);
    assert.deepEqual(unsealFile(path, direct), next);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.state.sealed.')),
      [],
    );
  });

  test('a tampered, truncated or extended sealed file is E_AUTH', () => {
    const path = join(dir, 'tamper.sealed');
    sealFile(path, new Uint8Array(randomBytes(5000)), direct);
    const good = readFileSync(path);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100]! ^= 1;
    writeFileSync(path, flipped);
    assert.throws(() => unsealFile(path, direct), code('E_AUTH', /chunk 0 failed authentication/));
    writeFileSync(path, good.subarray(0, good.length - 1));
    assert.throws(() => unsealFile(path, direct), code('E_AUTH'));
    writeFileSync(path, Buffer.concat([good, Buffer.from([0])]));
    assert.throws(() => unsealFile(path, direct), code('E_AUTH'));
  });

  test('a file sealed with another key file is E_AUTH naming both keys', () => {
    const other = keyFile('other.key');
    const p2 = directSealingKeyProvider(other.path, () => {});
    const sealed = sealBytes(Uint8Array.of(9), p2);
    assert.throws(
      () => unsealBytes(sealed, direct, 'x.sealed'),
      code(
        'E_AUTH',
        `x.sealed was encrypted with key INSECURE-direct-${other.id}, but the key given is INSECURE-direct-${kf.id}`,
      ),
    );
  });

  test('an encrypted file that is not sealed, or another format, is E_FORMAT', () => {
    const plainEnc = encryptBuffer(generateKey(), Uint8Array.of(1));
    assert.throws(
      () => unsealBytes(plainEnc, direct, 'y'),
      code('E_FORMAT', 'y is an encrypted file but not a sealed one'),
    );
    assert.throws(() => unsealBytes(new TextEncoder().encode('{"a":1}'), direct, 'y'), code('E_FORMAT'));
    assert.throws(() => unsealFile(join(dir, 'nope'), direct), code('E_IO', /cannot read/));
  });

  test('the SGX provider derives its key from the 16-byte MRENCLAVE key (stand-in file)', () => {
    const sgx = sgxStandIn('mrenclave.key');
    assert.equal(sgx.insecure, false);
    const data = new Uint8Array(randomBytes(1000));
    const sealed = sealBytes(data, sgx);
    const h = parseAeadFileHeader(sealed);
    assert.equal(h.insecureKey, false);
    assert.equal(h.keyId, 'sgx-mrenclave');
    assert.deepEqual(unsealBytes(sealed, sgx), data);
    // Another enclave (another MRENCLAVE key) cannot unseal.
    assert.throws(
      () => unsealBytes(sealed, sgxStandIn('other-enclave.key'), 's'),
      code('E_AUTH', /header failed authentication/),
    );
    // INSECURE and SGX files do not cross over.
    assert.throws(
      () => unsealBytes(sealBytes(data, direct), sgx, 's'),
      code('E_AUTH', 's was sealed with an INSECURE key file (no enclave); refusing it under SGX'),
    );
    assert.throws(
      () => unsealBytes(sealed, direct, 's'),
      code('E_AUTH', 's was sealed inside an SGX enclave; only that enclave can unseal it'),
    );
  });

  test('the SGX provider outside an enclave, or with a key of the wrong size, is E_IO', () => {
    assert.throws(
      () => sgxSealingKeyProvider(join(dir, 'missing')).key(),
      code('E_IO', /not inside gramine-sgx/),
    );
    assert.throws(() => sgxStandIn('short.key', 15).key(), code('E_IO', /has 15 bytes, expected 16/));
    assert.throws(() => sgxStandIn('long.key', 32).key(), code('E_IO', /has 17 bytes, expected 16/));
  });

  test('sealingKeyProviderFor picks the MRENCLAVE key under gramine-sgx and the key file otherwise', () => {
    assert.equal(sealingKeyProviderFor('gramine-sgx').kind, 'sgx-mrenclave');
    assert.equal(sealingKeyProviderFor('gramine-direct', kf.path, () => {}).kind, 'direct-insecure');
    assert.throws(() => sealingKeyProviderFor('direct'), {
      name: 'TypeError',
      message: 'sealing under direct needs a key file (there is no enclave key)',
    });
  });

  test('a key file other users can read is refused', () => {
    const open = keyFile('open.key');
    chmodSync(open.path, 0o644);
    assert.throws(
      () => directSealingKeyProvider(open.path, () => {}),
      code('E_IO', /accessible to other users \(mode 0644\)/),
    );
  });
});

describe('resume from a sealed checkpoint', () => {
  const quiet: Reporter = { event: () => {}, close: () => {} };
  function settings(steps: number): TrainSettings {
    return {
      model: 'alexnet',
      numClasses: 10,
      inputSize: 63,
      batchSize: 4,
      steps,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
      nesterov: false,
      schedule: 'constant',
      seed: 3,
      augment: true,
    };
  }
  const data = () => new SyntheticDataset({ length: 10, height: 63, width: 63, seed: 5 });
  const model = (seed = 3): Module => createModel('alexnet', { numClasses: 10, seed, dropout: 0.5 });
  const state = (m: Module) =>
    m.stateEntries().map((e) => (e.data instanceof Float32Array ? e.data.slice() : new Float32Array()));

  test('4 steps straight equal 2 steps, seal, unseal, resume, 2 steps: bit-identical weights', async () => {
    const straight = model();
    await runTraining({ settings: settings(4), model: straight, train: data(), reporter: quiet });

    const plainCk = join(dir, 'step2.ckpt');
    await runTraining({
      settings: settings(2),
      model: model(),
      train: data(),
      reporter: quiet,
      checkpoint: plainCk,
    });
    const ckBytes = new Uint8Array(readFileSync(plainCk));
    const sealedPath = join(dir, 'step2.ckpt.sealed');
    sealFile(sealedPath, ckBytes, direct);
    unlinkSync(plainCk); // only the sealed copy survives the "crash"
    assert.equal(existsSync(plainCk), false);

    const unsealed = unsealFile(sealedPath, direct);
    assert.deepEqual(unsealed, ckBytes, 'the unsealed checkpoint is byte-identical');
    const restored = join(dir, 'restored.ckpt');
    writeFileSync(restored, unsealed);
    const resumed = model(99);
    const rest = await runTraining({
      settings: settings(4),
      model: resumed,
      train: data(),
      reporter: quiet,
      resume: restored,
    });
    assert.equal(rest.steps, 4);
    const a = state(straight);
    state(resumed).forEach((t, i) => {
      assert.deepEqual(t, a[i], `state entry ${i} differs`);
    });
  });
});
