// End-to-end tests of `tee-offload weights` (src/cli/commands/weights.ts); never touches the network.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { convertTorchvision, weightsCommand } from '../../src/cli/commands/weights.js';
import { isTeeError } from '../../src/errors.js';
import { readSafetensorsFile } from '../../src/io/safetensors.js';
import { hashPrefixOf, sha256Hex, TORCHVISION_WEIGHTS } from '../../src/io/torchvision-weights.js';
import { fixturePath } from './fixtures-dir.js';
import { pthArchive, stateDictPickle } from './helpers/pickle-writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'tee-weights-cmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const log = mock.method(console, 'log', () => {});
  try {
    const code = await weightsCommand.run(argv);
    return { code, out: log.mock.calls.map((c) => String(c.arguments[0])).join('\n') };
  } finally {
    log.mock.restore();
  }
}

describe('tee-offload weights', () => {
  it('import converts mixed.pth to safetensors that reads back equal', async () => {
    const out = join(tmp, 'mixed.safetensors');
    const r = await run(['import', '--from', fixturePath('pth', 'mixed.pth'), '--out', out]);
    assert.equal(r.code, 0);
    assert.match(r.out, /wrote 9 tensors .* \(pth-zip\)/);
    const got = readSafetensorsFile(out);
    const want = readSafetensorsFile(fixturePath('pth', 'mixed.expected.safetensors'));
    assert.equal(got.metadata.source, 'mixed.pth');
    assert.deepEqual([...got.tensors.keys()], [...want.tensors.keys()]);
    for (const [name, t] of want.tensors) {
      assert.equal(got.tensors.get(name)!.dtype, t.dtype);
      assert.deepEqual(got.tensors.get(name)!.data, t.data, name);
    }
  });

  it('import strips a DataParallel prefix', async () => {
    const pkl = stateDictPickle([
      ['module.fc.weight', { key: '0', storage: 'FloatStorage', storageNumel: 2, size: [1, 2] }],
    ]);
    const from = join(tmp, 'dp.pth');
    writeFileSync(from, pthArchive(pkl, { '0': new Uint8Array(8) }));
    const out = join(tmp, 'dp.safetensors');
    assert.equal((await run(['import', '--from', from, '--out', out, '--strip-prefix', 'module.'])).code, 0);
    assert.deepEqual([...readSafetensorsFile(out).tensors.keys()], ['fc.weight']);
  });

  it('import reports bad command lines (E_USAGE) and bad files (E_FORMAT)', async () => {
    await assert.rejects(run(['import', '--from', 'x.pth']), (e) => isTeeError(e, 'E_USAGE'));
    await assert.rejects(run(['import', '--bogus']), (e) => isTeeError(e, 'E_USAGE'));
    await assert.rejects(run(['frobnicate']), (e) => isTeeError(e, 'E_USAGE'));
    const junk = join(tmp, 'junk.pth');
    writeFileSync(junk, 'junk');
    await assert.rejects(run(['import', '--from', junk, '--out', join(tmp, 'j.safetensors')]), (e) =>
      isTeeError(e, 'E_FORMAT'),
    );
  });

  it('fetch without network names the URL and the --from-file way, in one line (E_NETWORK)', async () => {
    const saved = process.env.TEE_OFFLOAD_WEIGHTS_BASE_URL;
    process.env.TEE_OFFLOAD_WEIGHTS_BASE_URL = 'http://127.0.0.1:1/models/';
    try {
      const out = join(tmp, 'offline');
      await assert.rejects(run(['fetch', 'resnet18', '--out', out]), (e: unknown) => {
        assert.ok(isTeeError(e, 'E_NETWORK'), String(e));
        assert.match(e.message, /http:\/\/127\.0\.0\.1:1\/models\/resnet18-f37072fd\.pth/);
        assert.match(e.message, /--from-file \.\/resnet18-f37072fd\.pth --out /);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
      assert.ok(!existsSync(join(out, 'resnet18.safetensors')));
    } finally {
      if (saved === undefined) delete process.env.TEE_OFFLOAD_WEIGHTS_BASE_URL;
      else process.env.TEE_OFFLOAD_WEIGHTS_BASE_URL = saved;
    }
  });

  it('fetch --from-file refuses a file whose SHA-256 does not match the published name (E_FORMAT)', async () => {
    await assert.rejects(
      run(['fetch', 'vgg11', '--from-file', fixturePath('pth', 'mixed.pth'), '--out', tmp]),
      (e) => isTeeError(e, 'E_FORMAT') && /does not start with 8a719046/.test(e.message),
    );
    await assert.rejects(run(['fetch', 'resnet50', '--out', tmp]), (e) => isTeeError(e, 'E_USAGE'));
    await assert.rejects(run(['fetch', 'resnet18']), (e) => isTeeError(e, 'E_USAGE'));
  });

  it('converts a download whose hash matches into DIR/<model>.safetensors with provenance metadata', () => {
    const bytes = new Uint8Array(readFileSync(fixturePath('pth', 'mixed.pth')));
    const prefix = sha256Hex(bytes).slice(0, 8);
    const r = convertTorchvision('alexnet', bytes, join(tmp, 'zoo'), 'mixed.pth', prefix);
    assert.equal(r.path, join(tmp, 'zoo', 'alexnet.safetensors'));
    const meta = readSafetensorsFile(r.path).metadata;
    assert.equal(meta.sha256, sha256Hex(bytes));
    assert.equal(meta.source, 'alexnet-owt-7be5be79.pth');
  });

  it('knows torchvision 0.14 weight files for every model it builds, each with an 8-hex hash', () => {
    for (const file of Object.values(TORCHVISION_WEIGHTS)) assert.match(hashPrefixOf(file), /^[0-9a-f]{8}$/);
    assert.equal(Object.keys(TORCHVISION_WEIGHTS).length, 11);
  });

  it('prints help for the command and each subcommand', async () => {
    assert.match((await run(['--help'])).out, /weights import [\s\S]*weights fetch/);
    assert.match((await run(['import', '--help'])).out, /--strip-prefix/);
    assert.match((await run(['fetch', '--help'])).out, /--from-file/);
  });
});
