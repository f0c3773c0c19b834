import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { fromFloat32 } from '../../src/io/safe-tensor.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { readWeightsFile } from '../../src/io/weights-file.js';
import { fixturePath } from './fixtures-dir.js';
import { legacyPth, stateDictPickle } from './helpers/pickle-writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'tee-weights-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('readWeightsFile', () => {
  it('picks the ZIP checkpoint reader by magic, whatever the extension', () => {
    const renamed = join(tmp, 'mixed.weights');
    copyFileSync(fixturePath('pth', 'mixed.pth'), renamed);
    for (const p of [fixturePath('pth', 'mixed.pth'), renamed]) {
      const r = readWeightsFile(p);
      assert.equal(r.format, 'pth-zip');
      assert.equal(r.tensors.get('conv.weight')!.dtype, 'F32');
    }
  });

  it('picks the legacy reader and the safetensors reader', () => {
    const legacy = join(tmp, 'old.pth');
    const object = stateDictPickle(
      [['w', { key: '0', storage: 'FloatStorage', storageNumel: 2, size: [2] }]],
      { legacy: true },
    );
    writeFileSync(legacy, legacyPth(object, [['0', new Uint8Array(8), 2]]));
    assert.equal(readWeightsFile(legacy).format, 'pth-legacy');
    const st = join(tmp, 'w.safetensors');
    writeFileSync(st, serializeSafetensors([['w', fromFloat32([1], Float32Array.of(1))]]));
    assert.equal(readWeightsFile(st).format, 'safetensors');
  });

  it('refuses a .pth that is neither format (E_FORMAT) and a missing file (E_IO)', () => {
    const junk = join(tmp, 'junk.pth');
    writeFileSync(junk, 'not a checkpoint');
    assert.throws(
      () => readWeightsFile(junk),
      (e) => isTeeError(e, 'E_FORMAT') && /junk\.pth/.test(e.message),
    );
    assert.throws(
      () => readWeightsFile(join(tmp, 'none.pth')),
      (e) => isTeeError(e, 'E_IO'),
    );
  });
});
