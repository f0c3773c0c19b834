// What the client uploads for --data and --weights: plain tokens as names (a local name that is not one
// is rewritten), a directory's files into the `data` group (CIFAR-10's batches folder found inside it),
// an IDX images file with its labels, `.enc` dropped from encrypted files; synthetic data as a spec only.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { planData, planWeights, uploadToken } from '../../src/client/uploads.js';
import { isTeeError } from '../../src/errors.js';
import { isUploadName } from '../../src/protocol/session-messages.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-uploads-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('upload planning', () => {
  it('turns local file names into upload tokens', () => {
    assert.equal(uploadToken('data_batch_1.bin', false), 'data_batch_1.bin');
    assert.equal(uploadToken('batch.safetensors.enc', true), 'batch.safetensors');
    assert.equal(uploadToken('batch.safetensors.enc', false), 'batch.safetensors.enc');
    assert.equal(uploadToken('my file (1).pth', false), 'my_file__1_.pth');
    assert.equal(uploadToken('.hidden', false), 'f.hidden');
    assert.ok(isUploadName(uploadToken('x'.repeat(300), false)));
  });

  it('sends synthetic data as a spec, nothing uploaded', () => {
    assert.deepEqual(planData('synthetic:16'), { ref: { kind: 'synthetic', length: 16 }, uploads: [] });
    assert.deepEqual(planData('synthetic').ref, { kind: 'synthetic', length: 256 });
    assert.throws(
      () => planData('synthetic:0'),
      (e: unknown) => isTeeError(e, 'E_USAGE'),
    );
    assert.throws(() => planData('synthetic:8', 'k'), /--data-key is for data files/);
  });

  it('uploads a directory’s files (CIFAR-10’s batches folder inside it) as the data group', () => {
    const root = join(dir, 'cifar');
    mkdirSync(join(root, 'cifar-10-batches-bin'), { recursive: true });
    writeFileSync(join(root, 'README'), 'x');
    for (const n of ['data_batch_1.bin', 'test_batch.bin', '.DS_Store'])
      writeFileSync(join(root, 'cifar-10-batches-bin', n), 'x');
    const p = planData(`cifar10:${root}`);
    assert.deepEqual(p.ref, { kind: 'upload', name: 'data' });
    assert.deepEqual(
      p.uploads.map((u) => u.name),
      ['data/data_batch_1.bin', 'data/test_batch.bin'],
    );
  });

  it('uploads an IDX images file with its labels file, and an encrypted file under its plaintext name', () => {
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), 'x');
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), 'x');
    const idx = planData(join(dir, 't10k-images-idx3-ubyte'));
    assert.deepEqual(idx.ref, { kind: 'upload', name: 'data/t10k-images-idx3-ubyte' });
    assert.deepEqual(
      idx.uploads.map((u) => u.name),
      ['data/t10k-images-idx3-ubyte', 'data/t10k-labels-idx1-ubyte'],
    );
    writeFileSync(join(dir, 'b.safetensors.enc'), 'x');
    const enc = planData(join(dir, 'b.safetensors.enc'), '/keys/k');
    assert.deepEqual(enc.uploads, [
      { name: 'data/b.safetensors', path: join(dir, 'b.safetensors.enc'), keyFile: '/keys/k' },
    ]);
    assert.deepEqual(planWeights('/w/resnet18 v2.pth'), {
      name: 'weights-resnet18_v2.pth',
      path: '/w/resnet18 v2.pth',
    });
    assert.throws(
      () => planData(join(dir, 'missing.bin')),
      (e: unknown) => isTeeError(e, 'E_IO'),
    );
  });

  it('refuses a file that would not be read as data inside, before anything is sent, and says how to name it', () => {
    writeFileSync(join(dir, 'train.enc'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    assert.throws(
      () => planData(join(dir, 'train.enc'), '/keys/k'),
      (e: unknown) =>
        isTeeError(e, 'E_USAGE') &&
        /train\.enc is not a recognised data file/.test(e.message) &&
        /less "\.enc" \("train"\): name it e\.g\. train\.safetensors\.enc/.test(e.message),
    );
    assert.throws(
      () => planData(join(dir, 'notes.txt')),
      (e: unknown) =>
        isTeeError(e, 'E_USAGE') && /notes\.txt is not a recognised data file[^;]*$/.test(e.message),
    );
    // The same file name without a key is plaintext: train.enc itself is then the (unrecognised) name.
    assert.throws(
      () => planData(join(dir, 'train.enc')),
      (e: unknown) => isTeeError(e, 'E_USAGE'),
    );
  });
});
