// Blinded split-mode inference with precomputed pads (docs/integrity.md "Privacy"), in process with a
// live accelerator on 127.0.0.1: `precompute` writes an encrypted pad file for AlexNet at 63×63; the
// blinded forward through RemoteLinearOps gives the native top-1 and logits close to native; a pad is
// never used twice (spent sets and a ledger of consumed files refuse, E_STATE); a flipped byte is
// refused (E_AUTH); a pad file for other weights is refused (E_STATE).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AcceleratorServer, startAcceleratorServer } from '../../src/accelerator/server.js';
import { precomputeCommand } from '../../src/cli/commands/precompute.js';
import { buildModel } from '../../src/cli/model-setup.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { checkPadsMatch, decodePadFile, PadLedger } from '../../src/enclave/pad-file.js';
import { useRemoteLinearOps } from '../../src/enclave/remote-layer-labels.js';
import { type ProductTrace, RemoteLinearOps } from '../../src/enclave/remote-linear-ops.js';
import { isTeeError } from '../../src/errors.js';
import { saveStateDict } from '../../src/io/state-dict.js';
import { createModel } from '../../src/models/index.js';
import { argmaxRows, predict } from '../../src/nn/train-step.js';
import { generateKey, wipe, writeKeyFile } from '../../src/secure/keys.js';
import { directSealingKeyProvider } from '../../src/secure/seal.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-pads-'));
const f = (name: string) => join(dir, name);
const isCode = (code: string) => (e: unknown) => isTeeError(e) && e.code === code;
const SIZE = 63;
let server: AcceleratorServer;
let key: Uint8Array;

function input(seed: number): Tensor {
  const rng = new SeededRng(seed);
  const t = new Tensor([1, 3, SIZE, SIZE]);
  for (let i = 0; i < t.size; i++) t.data[i] = 2 * rng.nextFloat() - 1;
  return t;
}

function model(weights: string) {
  return buildModel({ model: 'alexnet', numClasses: 10, inputSize: SIZE, seed: 0, weights, log: () => {} });
}

before(async () => {
  saveStateDict(createModel('alexnet', { numClasses: 10, seed: 3 }), f('w.safetensors'));
  saveStateDict(createModel('alexnet', { numClasses: 10, seed: 4 }), f('other.safetensors'));
  key = generateKey();
  writeKeyFile(f('pads.key'), key);
  server = await startAcceleratorServer({ log: () => {} });
  const code = await precomputeCommand.run([
    '--model',
    'alexnet',
    '--weights',
    f('w.safetensors'),
    '--input-size',
    String(SIZE),
    '--count',
    '2',
    '--key',
    f('pads.key'),
    '--out',
    f('w.pads'),
  ]);
  assert.equal(code, 0);
});

after(async () => {
  await server?.close();
  wipe(key);
  rmSync(dir, { recursive: true, force: true });
});

describe('precompute + blinded inference (live accelerator)', () => {
  it('blinds every forward product; top-1 as native, logits close; the pads run out after --count batches', async () => {
    const pads = decodePadFile(key, readFileSync(f('w.pads')), 'w.pads');
    assert.equal(pads.sets.size, 8, 'AlexNet: 5 conv + 3 linear layers');
    const m = model(f('w.safetensors'));
    await checkPadsMatch(m, [1, 3, SIZE, SIZE], pads.sets);
    const native = [await predict(m, input(1)), await predict(m, input(2))];
    const port = server.address().port;
    const client = new AcceleratorClient(`127.0.0.1:${port}`);
    const traces: ProductTrace[] = [];
    const remote = new RemoteLinearOps(client, {
      pads: (l) => pads.sets.get(l),
      onProduct: (t) => traces.push(t),
    });
    useRemoteLinearOps(m, remote);
    try {
      for (const [i, want] of native.entries()) {
        const got = await predict(m, input(i + 1));
        assert.deepEqual(argmaxRows(got), argmaxRows(want), 'same top-1');
        let scale = 0;
        let diff = 0;
        for (let j = 0; j < got.size; j++) {
          scale = Math.max(scale, Math.abs(want.data[j]!));
          diff = Math.max(diff, Math.abs(got.data[j]! - want.data[j]!));
        }
        assert.ok(diff <= 0.02 * scale + 1e-4, `logits differ by ${diff} (scale ${scale})`);
      }
      assert.equal(traces.length, 16);
      assert.ok(traces.every((t) => t.blinded));
      for (const s of pads.sets.values()) assert.equal(s.remaining, 0);
      await assert.rejects(
        predict(m, input(3)),
        isCode('E_STATE'),
        'a third batch needs pads that are spent',
      );
    } finally {
      await client.close();
    }
  });

  it('a pad file is claimed once per ledger: the second use is refused (E_STATE), also across a sealed ledger file', async () => {
    const { header } = decodePadFile(key, readFileSync(f('w.pads')));
    const sk = generateKey();
    writeKeyFile(f('seal.key'), sk);
    wipe(sk);
    const sealing = directSealingKeyProvider(f('seal.key'), () => {});
    const ledger = new PadLedger(f('ledger'), sealing);
    ledger.claim(header.fileId);
    assert.throws(() => ledger.claim(header.fileId), isCode('E_STATE'));
    const reopened = new PadLedger(f('ledger'), sealing);
    assert.throws(() => reopened.claim(header.fileId), isCode('E_STATE'));
  });

  it('refuses a tampered pad file (E_AUTH) and one made for other weights (E_STATE)', async () => {
    const bytes = new Uint8Array(readFileSync(f('w.pads')));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    assert.throws(() => decodePadFile(key, bytes), isCode('E_AUTH'));
    const other = generateKey();
    assert.throws(() => decodePadFile(other, readFileSync(f('w.pads'))), isCode('E_AUTH'));
    const pads = decodePadFile(key, readFileSync(f('w.pads')));
    const m = model(f('other.safetensors'));
    await assert.rejects(checkPadsMatch(m, [1, 3, SIZE, SIZE], pads.sets), isCode('E_STATE'));
    const client = new AcceleratorClient(`127.0.0.1:${server.address().port}`);
    try {
      useRemoteLinearOps(m, new RemoteLinearOps(client, { pads: (l) => pads.sets.get(l) }));
      await assert.rejects(
        predict(m, input(1)),
        (e) => isCode('E_STATE')(e) && /weights changed/.test(String(e)),
      );
    } finally {
      await client.close();
    }
  });
});
