// Blinded split-mode inference end to end (docs/integrity.md "Privacy"): `tee-offload precompute` makes
// an encrypted pad file; `infer --mode split --privacy blind --pads PADS --pads-key K` through a trusted
// process (direct, --allow-simulated, with a checkpoint directory for the sealed ledger) and a live
// accelerator gives the native top-1; the same pad file is refused the second time (also after the
// trusted process restarts: sealed ledger), a job needing more pads than the file holds is refused
// (E_STATE), a flipped byte is refused (E_AUTH), a pad file for other weights is refused (E_STATE), and
// training with pads is a usage error. A trusted process started by the command keeps its sealed ledger
// in --pad-ledger (so a pad file is refused by the next run too); a running one without a
// --checkpoint-dir refuses blinded jobs.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { saveStateDict } from '../../src/io/state-dict.js';
import { createModel } from '../../src/models/index.js';
import { generateKey, wipe, writeKeyFile } from '../../src/secure/keys.js';
import { type Accelerator, type ChildEnclave, cli, startAccelerator, startChildEnclave } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-blind-'));
const sealedDir = join(dir, 'sealed');
const f = (name: string) => join(dir, name);
let enclave: ChildEnclave;
let accel: Accelerator;

function ok(r: { code: number | null; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
}

function precompute(weights: string, out: string, count: number) {
  return cli([
    'precompute',
    '--model',
    'alexnet',
    '--weights',
    weights,
    '--input-size',
    '63',
    '--count',
    String(count),
    '--key',
    f('pads.key'),
    '--out',
    out,
  ]);
}

const common = (images: number) => [
  'infer',
  '--model',
  'alexnet',
  '--input-size',
  '63',
  '--weights',
  f('w.safetensors'),
  '--data',
  `synthetic:${images}`,
  '--batch-size',
  '1',
  '--topk',
  '3',
  '--threads',
  '1',
  '--json',
];

function blind(pads: string, images = 2): string[] {
  return [
    ...common(images),
    '--mode',
    'split',
    '--enclave',
    enclave.address,
    '--allow-simulated',
    '--accelerator',
    accel.address,
    '--privacy',
    'blind',
    '--pads',
    pads,
    '--pads-key',
    f('pads.key'),
  ];
}

type Row = { index: number; top: { class: number; p: number }[] };
const rows = (stdout: string): Row[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Row);

before(async () => {
  saveStateDict(createModel('alexnet', { numClasses: 10, seed: 3 }), f('w.safetensors'));
  saveStateDict(createModel('alexnet', { numClasses: 10, seed: 4 }), f('other.safetensors'));
  const key = generateKey();
  writeKeyFile(f('pads.key'), key);
  wipe(key);
  ok(await precompute(f('w.safetensors'), f('w.pads'), 2), 'precompute');
  accel = await startAccelerator();
  enclave = await startChildEnclave(['--checkpoint-dir', sealedDir]);
});

after(async () => {
  await accel?.server.close();
  await enclave?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('infer --mode split --privacy blind', () => {
  it('gives the native top-1 (probabilities close) and uses the pad file once (also after a restart)', async () => {
    copyFileSync(f('w.pads'), f('copy.pads'));
    const native = await cli(common(2));
    ok(native, 'native infer');
    const r = await cli(blind(f('w.pads')));
    ok(r, 'blinded infer');
    const want = rows(native.stdout);
    const got = rows(r.stdout);
    assert.equal(got.length, 2);
    for (const [i, g] of got.entries()) {
      assert.equal(g.top[0]!.class, want[i]!.top[0]!.class, `image ${i}: top-1`);
      for (const [j, t] of g.top.entries()) assert.ok(Math.abs(t.p - want[i]!.top[j]!.p) < 0.02);
    }
    const again = await cli(blind(f('copy.pads')));
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stderr, /already used/);
    await enclave.stop();
    enclave = await startChildEnclave(['--checkpoint-dir', sealedDir]);
    const restarted = await cli(blind(f('w.pads')));
    assert.equal(restarted.code, 3, restarted.stderr);
    assert.match(restarted.stderr, /already used/);
  });

  it('refuses a job that needs more pads than the file holds (E_STATE)', async () => {
    ok(await precompute(f('w.safetensors'), f('short.pads'), 2), 'precompute');
    const r = await cli(blind(f('short.pads'), 3));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /pads for 2 batches, this job needs 3/);
  });

  it('refuses a tampered pad file (E_AUTH) and one made for other weights (E_STATE)', async () => {
    ok(await precompute(f('w.safetensors'), f('t.pads'), 2), 'precompute');
    const bytes = readFileSync(f('t.pads'));
    bytes[bytes.length - 40]! ^= 0x01;
    writeFileSync(f('t.pads'), bytes);
    const t = await cli(blind(f('t.pads')));
    assert.equal(t.code, 8, t.stderr);
    // Named as the user's file was uploaded, not by the trusted process's temporary path.
    assert.match(t.stderr, /E_AUTH: upload pads-t\.pads: chunk \d+ failed authentication/);
    ok(await precompute(f('other.safetensors'), f('other.pads'), 2), 'precompute');
    const o = await cli(blind(f('other.pads')));
    assert.equal(o.code, 3, o.stderr);
    assert.match(o.stderr, /other weights/);
  });

  it('uses a pad file once when the command starts its own trusted process (sealed ledger in --pad-ledger)', async () => {
    ok(await precompute(f('w.safetensors'), f('own.pads'), 2), 'precompute');
    copyFileSync(f('own.pads'), f('own-copy.pads'));
    const own = (pads: string, ledger: string) =>
      blind(pads).flatMap((a, i, all) =>
        a === '--enclave' || all[i - 1] === '--enclave'
          ? []
          : a === '--json'
            ? [a, '--pad-ledger', ledger]
            : [a],
      );
    const first = await cli(own(f('own.pads'), f('ledger')));
    ok(first, 'blinded infer, trusted process started here');
    assert.equal(rows(first.stdout).length, 2);
    // The trusted process of the first run has ended; the next one reads the sealed ledger.
    const again = await cli(own(f('own-copy.pads'), f('ledger')));
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stderr, /E_STATE: pad file [0-9a-f]+ was already used/);
    // --pad-ledger only where this command starts a direct trusted process.
    const refused = await cli([...blind(f('own.pads')), '--pad-ledger', f('ledger')]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--pad-ledger is for a trusted process started here/);
  });

  it('a running trusted process without --checkpoint-dir refuses blinded jobs (its ledger would not outlive it)', async () => {
    const bare = await startChildEnclave([]);
    try {
      ok(await precompute(f('w.safetensors'), f('bare.pads'), 2), 'precompute');
      const args = blind(f('bare.pads'));
      args[args.indexOf('--enclave') + 1] = bare.address;
      const r = await cli(args);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /blinded inference needs a sealed pad ledger.*no --checkpoint-dir/);
    } finally {
      await bare.stop();
    }
  });

  it('refuses --privacy blind for training (E_USAGE)', async () => {
    const r = await cli(['train', '--model', 'alexnet', '--data', 'synthetic:4', '--privacy', 'blind']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /training cannot use one-time pads: weights change every step/);
  });
});
