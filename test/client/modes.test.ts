// The execution modes end to end, with real processes and sockets: the CLI (a child process) as the data
// owner, a trusted process (`tee-offload enclave`, a child process), accelerator servers on port 0.
// AlexNet at 63×63 on synthetic data, 2 steps, 1 thread: enclave mode gives the native weights bit for
// bit; split float matches within float tolerance, split exact within the quantization error of
// docs/integrity.md; a lying accelerator stops training with E_VERIFY and leaves the last sealed
// checkpoint loadable and resumable; an encrypted data file trains exactly like the plain one.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DIRECT_SEAL_KEY_NAME } from '../../src/cli/commands/enclave.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { runRemote } from '../../src/client/remote.js';
import { isTeeError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/io/atomic-write.js';
import { fromBigInt64, fromFloat32, toFloat32 } from '../../src/io/safe-tensor.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/safetensors.js';
import { stateDictTensors } from '../../src/io/state-dict.js';
import { createModel } from '../../src/models/index.js';
import { defaultLinearOps } from '../../src/nn/backend.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { setLinearOps } from '../../src/nn/layer.js';
import { SGD } from '../../src/nn/sgd.js';
import { trainStep } from '../../src/nn/train-step.js';
import { encryptFile, parseAeadFileHeader } from '../../src/secure/aead-file.js';
import { generateKey, wipe, writeKeyFile } from '../../src/secure/keys.js';
import { directSealingKeyProvider, unsealFile } from '../../src/secure/seal.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import {
  type Accelerator,
  type ChildEnclave,
  cli,
  ENCLAVE_CHILD,
  losses,
  startAccelerator,
  startChildEnclave,
  trainArgs,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-modes-'));
const sealedDir = join(dir, 'sealed');
let enclave: ChildEnclave;
let sealing: ChildEnclave;
let honest: Accelerator;
let native: { bytes: Uint8Array; losses: number[] };

const f = (name: string) => join(dir, name);
const sim = (e: ChildEnclave) => ['--enclave', e.address, '--allow-simulated'];

function weights(path: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of readSafetensorsFile(path).tensors) if (t.dtype === 'F32') out.set(k, toFloat32(t));
  return out;
}

/** max |a − b| over each tensor, as a fraction of that tensor's largest |b|. */
function worstRelative(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    let d = 0;
    let m = 0;
    for (let i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i]! - y[i]!));
      m = Math.max(m, Math.abs(y[i]!));
    }
    worst = Math.max(worst, d / Math.max(m, 1e-12));
  }
  return worst;
}

/** How many linear products one AlexNet training step asks for (23: 8 forward, 8 + 7 backward). */
async function productsPerStep(): Promise<number> {
  const model = createModel('alexnet', { numClasses: 10, seed: 3 });
  const local = defaultLinearOps();
  let n = 0;
  const count =
    <A extends unknown[]>(f: (...a: A) => Promise<Tensor>) =>
    (...a: A) => {
      n++;
      return f(...a);
    };
  setLinearOps(model, {
    name: 'counting',
    dense: count((x, w) => local.dense(x, w)),
    denseGradInput: count((dy, w) => local.denseGradInput(dy, w)),
    denseGradWeight: count((dy, x) => local.denseGradWeight(dy, x)),
    conv2d: count((x, w, p) => local.conv2d(x, w, p)),
    conv2dGradInput: count((dy, w, p, hw) => local.conv2dGradInput(dy, w, p, hw)),
    conv2dGradWeight: count((dy, x, p, k) => local.conv2dGradWeight(dy, x, p, k)),
  });
  const input = new Tensor([4, 3, 63, 63]);
  await trainStep(
    model,
    new CrossEntropyLoss(),
    new SGD(model.parameters(), { lr: 0.01 }),
    input,
    new BigInt64Array(4),
  );
  return n;
}

function ok(r: { code: number | null; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
}

before(async () => {
  const r = await cli(trainArgs(f('native.safetensors')));
  ok(r, 'native training');
  native = { bytes: readFileSync(f('native.safetensors')), losses: losses(r.stdout) };
  assert.equal(native.losses.length, 2);
  enclave = await startChildEnclave();
  sealing = await startChildEnclave(['--checkpoint-dir', sealedDir]);
  honest = await startAccelerator();
});

after(async () => {
  await honest?.server.close();
  await sealing?.stop();
  await enclave?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('train --mode enclave', () => {
  it('gives bit-identical weights and losses to --mode native (same seed) with --allow-simulated', async () => {
    const r = await cli(trainArgs(f('enclave.safetensors'), ['--mode', 'enclave', ...sim(enclave)]));
    ok(r, 'enclave training');
    assert.deepEqual(losses(r.stdout), native.losses);
    assert.ok(
      Buffer.from(readFileSync(f('enclave.safetensors'))).equals(native.bytes),
      'saved files are byte-identical',
    );
    assert.match(r.stderr, /SIMULATED attestation \(no TEE\): accepted because of --allow-simulated/);
  });

  it('is refused with E_ATTEST (exit 8, one line) without --allow-simulated', async () => {
    const r = await cli(
      trainArgs(f('refused.safetensors'), ['--mode', 'enclave', '--enclave', enclave.address]),
    );
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /^tee-offload: E_ATTEST: .*SIMULATED attestation.*--allow-simulated/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.deepEqual(readdirSync(dir).includes('refused.safetensors'), false);
  });

  it('trains an AEAD-encrypted data file (uploaded with its key, decrypted inside) exactly like the plain one', async () => {
    const rng = new SeededRng(9);
    const n = 8;
    const input = new Float32Array(n * 3 * 63 * 63).map(() => rng.nextFloat());
    const labels = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 10));
    writeSafetensorsFile(
      f('batch.safetensors'),
      new Map([
        ['input', fromFloat32([n, 3, 63, 63], input)],
        ['labels', fromBigInt64([n], labels)],
      ]),
    );
    const key = generateKey();
    writeKeyFile(f('data.key'), key);
    await encryptFile(key, f('batch.safetensors'), f('batch.safetensors.enc'));
    wipe(key);
    const args = (data: string, save: string, extra: string[]) => [
      'train',
      '--model',
      'alexnet',
      '--data',
      data,
      '--steps',
      '2',
      '--seed',
      '5',
      '--threads',
      '1',
      '--json',
      '--save',
      save,
      ...extra,
    ];
    const plain = await cli(
      args(f('batch.safetensors'), f('plain.safetensors'), ['--mode', 'enclave', ...sim(enclave)]),
    );
    ok(plain, 'plain upload');
    const enc = await cli(
      args(f('batch.safetensors.enc'), f('enc.safetensors'), [
        '--mode',
        'enclave',
        ...sim(enclave),
        '--data-key',
        f('data.key'),
      ]),
    );
    ok(enc, 'encrypted upload');
    const nat = await cli(args(f('batch.safetensors'), f('batch-native.safetensors'), []));
    ok(nat, 'native on the batch file');
    assert.deepEqual(losses(enc.stdout), losses(plain.stdout));
    assert.ok(readFileSync(f('enc.safetensors')).equals(readFileSync(f('plain.safetensors'))));
    assert.ok(readFileSync(f('enc.safetensors')).equals(readFileSync(f('batch-native.safetensors'))));
    // The wrong key: E_AUTH from inside the trusted process, nothing trained.
    writeKeyFile(f('other.key'), generateKey());
    const wrong = await cli(
      args(f('batch.safetensors.enc'), f('wrong.safetensors'), [
        '--mode',
        'enclave',
        ...sim(enclave),
        '--data-key',
        f('other.key'),
      ]),
    );
    assert.equal(wrong.code, 8, wrong.stderr);
    assert.match(wrong.stderr, /E_AUTH: .*failed authentication/);
  });

  it('eval and infer give the native results', async () => {
    const common = [
      '--model',
      'alexnet',
      '--input-size',
      '63',
      '--weights',
      f('native.safetensors'),
      '--data',
      'synthetic:8',
      '--batch-size',
      '4',
      '--threads',
      '1',
      '--json',
    ];
    const evNative = await cli(['eval', ...common]);
    const evEnclave = await cli(['eval', ...common, '--mode', 'enclave', ...sim(enclave)]);
    ok(evNative, 'native eval');
    ok(evEnclave, 'enclave eval');
    const strip = (s: string) => {
      const { seconds: _s, ...rest } = JSON.parse(s.trim()) as Record<string, number>;
      return rest;
    };
    assert.deepEqual(strip(evEnclave.stdout), strip(evNative.stdout));
    const inNative = await cli(['infer', ...common, '--topk', '3']);
    const inEnclave = await cli(['infer', ...common, '--topk', '3', '--mode', 'enclave', ...sim(enclave)]);
    ok(inEnclave, 'enclave infer');
    assert.equal(inEnclave.stdout, inNative.stdout);
    assert.equal(inEnclave.stdout.trim().split('\n').length, 8);
  });
});

describe('train --mode split', () => {
  it('--integrity float matches native within float tolerance (losses and weights)', async () => {
    const r = await cli(
      trainArgs(f('float.safetensors'), [
        '--mode',
        'split',
        '--integrity',
        'float',
        '--accelerator',
        honest.address,
        ...sim(enclave),
      ]),
    );
    ok(r, 'split float');
    const l = losses(r.stdout);
    for (let i = 0; i < 2; i++)
      assert.ok(Math.abs(l[i]! - native.losses[i]!) <= 1e-5 * native.losses[i]!, `loss ${l[i]}`);
    const rel = worstRelative(weights(f('float.safetensors')), weights(f('native.safetensors')));
    assert.ok(rel <= 1e-4, `weights differ by ${rel} of their largest value`);
  });

  it('--integrity exact stays within the quantization error of docs/integrity.md', async (t) => {
    const r = await cli(
      trainArgs(f('exact.safetensors'), [
        '--mode',
        'split',
        '--accelerator',
        honest.address,
        ...sim(enclave),
      ]),
    );
    ok(r, 'split exact');
    // The default wide field keeps ~20 bits per operand: the loss agrees to well within 1e-3 (the
    // single-prime field p24 needed 1e-2).
    const l = losses(r.stdout);
    for (let i = 0; i < 2; i++)
      assert.ok(Math.abs(l[i]! - native.losses[i]!) <= 1e-3 * native.losses[i]!, `loss ${l[i]}`);
    // The weights: exact-mode SGD moves them where native SGD does, up to the quantization error of
    // the gradients (stochastic rounding): the deviation is a fraction of the distance trained.
    const init = stateDictTensors(createModel('alexnet', { numClasses: 10, seed: 3 }));
    const got = weights(f('exact.safetensors'));
    const want = weights(f('native.safetensors'));
    let dev = 0;
    let moved = 0;
    for (const [k, y] of want) {
      const x = got.get(k)!;
      const w0 = toFloat32(init.get(k)!);
      for (let i = 0; i < y.length; i++) {
        dev += (x[i]! - y[i]!) ** 2;
        moved += (y[i]! - w0[i]!) ** 2;
      }
    }
    const ratio = Math.sqrt(dev / moved);
    t.diagnostic(`‖w_exact − w_native‖ / ‖w_native − w_init‖ = ${ratio.toExponential(2)}`);
    assert.ok(ratio <= 1e-2, `exact-mode weights deviate by ${ratio} of the distance trained`);
  });

  it('stops with E_VERIFY when the accelerator lies; the last sealed checkpoint stays intact, loadable and resumable', async () => {
    // From the first product of step 2 on, every reply is falsified, the retry's too.
    const perStep = await productsPerStep();
    const liar = await startAccelerator({ mode: 'flip-element', from: perStep });
    try {
      const r = await cli(
        trainArgs(
          f('never.safetensors'),
          [
            '--mode',
            'split',
            '--integrity',
            'float',
            '--accelerator',
            liar.address,
            ...sim(sealing),
            '--checkpoint',
            'run.ckpt',
            '--checkpoint-every',
            '1',
          ],
          3,
        ),
      );
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /E_VERIFY/);
      assert.equal(losses(r.stdout).length, 1, 'one step was verified and taken');
      assert.ok(liar.server.tamper!.tampered >= 2, 'the product and its retry were both falsified');
    } finally {
      await liar.server.close();
    }
    const files = readdirSync(sealedDir);
    assert.ok(files.includes('run.ckpt'));
    for (const name of files) {
      // Nothing but the key and sealed checkpoints: no plaintext, no temp files left behind.
      if (name === DIRECT_SEAL_KEY_NAME) continue;
      assert.ok(parseAeadFileHeader(new Uint8Array(readFileSync(join(sealedDir, name))), name).sealed, name);
    }
    const sealedBytes = readFileSync(join(sealedDir, 'run.ckpt'));
    const h = parseAeadFileHeader(new Uint8Array(sealedBytes), 'run.ckpt');
    assert.ok(h.sealed && h.insecureKey, 'a sealed file, flagged INSECURE under direct');
    const provider = directSealingKeyProvider(join(sealedDir, DIRECT_SEAL_KEY_NAME), () => {});
    const plain = unsealFile(join(sealedDir, 'run.ckpt'), provider);
    writeFileAtomic(f('unsealed.ckpt'), [plain]);
    const model = createModel('alexnet', { numClasses: 10, seed: 77 });
    const ck = loadCheckpoint(
      f('unsealed.ckpt'),
      model,
      new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 }),
    );
    assert.equal(ck.step, 1);
    // Resumed in the trusted process (everything inside): steps 2 and 3 as a native 3-step run has them.
    const straight = await cli(trainArgs(f('native3.safetensors'), [], 3));
    ok(straight, 'native 3 steps');
    const resumed = await cli(
      trainArgs(f('resumed.safetensors'), ['--mode', 'enclave', ...sim(sealing), '--resume', 'run.ckpt'], 3),
    );
    ok(resumed, 'resume from the sealed checkpoint');
    const l = losses(resumed.stdout);
    assert.equal(l.length, 2);
    const nl = losses(straight.stdout).slice(1);
    for (let i = 0; i < 2; i++)
      assert.ok(Math.abs(l[i]! - nl[i]!) <= 1e-5 * nl[i]!, `loss ${l[i]} vs ${nl[i]}`);
    const rel = worstRelative(weights(f('resumed.safetensors')), weights(f('native3.safetensors')));
    assert.ok(rel <= 1e-4, `resumed weights differ by ${rel}`);
  });
});

describe('an accelerator that never replies', () => {
  it('fails the attempt after --accelerator-timeout, retries once, then stops with E_NETWORK', async () => {
    const mute = await startAccelerator({ mode: 'never-reply' });
    try {
      const t0 = performance.now();
      const r = await cli(
        trainArgs(
          f('mute.safetensors'),
          ['--mode', 'split', '--accelerator', mute.address, '--accelerator-timeout', '0.5', ...sim(sealing)],
          1,
        ),
      );
      const sec = (performance.now() - t0) / 1000;
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stderr, /E_NETWORK: .*failed twice .*no reply from accelerator .* within 500 ms/);
      assert.ok(sec < 30, `stopped after ${sec.toFixed(1)} s, not after two 60 s deadlines`);
    } finally {
      await mute.server.close();
    }
  });
});

describe('sealed checkpoints', () => {
  it('resume from a sealed checkpoint in the trusted process is bit-identical to a straight run', async () => {
    const first = await cli(
      trainArgs(
        f('half.safetensors'),
        ['--mode', 'enclave', ...sim(sealing), '--checkpoint', 'half.ckpt'],
        1,
      ),
    );
    ok(first, 'first step with a checkpoint');
    assert.match(first.stdout, /"type":"checkpoint","step":1,"path":"sealed:half.ckpt"/);
    const rest = await cli(
      trainArgs(f('rest.safetensors'), ['--mode', 'enclave', ...sim(sealing), '--resume', 'half.ckpt']),
    );
    ok(rest, 'resumed run');
    assert.deepEqual(losses(rest.stdout), native.losses.slice(1));
    assert.ok(
      readFileSync(f('rest.safetensors')).equals(native.bytes),
      'byte-identical to the straight native run',
    );
  });

  it('never seals over a file that is not a sealed checkpoint, such as the sealing key (E_USAGE)', async () => {
    const r = await cli(
      trainArgs(
        f('overkey.safetensors'),
        ['--mode', 'enclave', ...sim(sealing), '--checkpoint', DIRECT_SEAL_KEY_NAME],
        1,
      ),
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /refusing to write checkpoint INSECURE-direct-seal\.key: .* not a sealed checkpoint/,
    );
    assert.doesNotThrow(() =>
      directSealingKeyProvider(join(sealedDir, DIRECT_SEAL_KEY_NAME), () => {}).key(),
    );
  });

  it('a trusted process without --checkpoint-dir refuses a job that checkpoints (E_USAGE)', async () => {
    const r = await cli(
      trainArgs(f('nock.safetensors'), ['--mode', 'enclave', ...sim(enclave), '--checkpoint', 'x.ckpt']),
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /E_USAGE: a checkpoint needs a checkpoint directory: start the enclave with --checkpoint-dir DIR/,
    );
  });
});

describe('train --mode accelerator (the unprotected baseline)', () => {
  it('runs the trainer here with unchecked products on the accelerator, and says so', async () => {
    const r = await cli(
      trainArgs(f('gpu.safetensors'), ['--mode', 'accelerator', '--accelerator', honest.address]),
    );
    ok(r, 'accelerator mode');
    assert.match(r.stderr, /WARNING: integrity off: accelerator results are NOT verified/);
    const l = losses(r.stdout);
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(l[i]! - native.losses[i]!) <= 1e-5 * native.losses[i]!);
    assert.ok(worstRelative(weights(f('gpu.safetensors')), weights(f('native.safetensors'))) <= 1e-4);
    // Its eval names the data as given and, like split mode, ends with the accelerators line.
    const e = await cli([
      'eval',
      '--model',
      'alexnet',
      '--input-size',
      '63',
      '--weights',
      f('gpu.safetensors'),
      '--data',
      'synthetic:8',
      '--batch-size',
      '4',
      '--threads',
      '1',
      '--mode',
      'accelerator',
      '--accelerator',
      honest.address,
    ]);
    ok(e, 'accelerator-mode eval');
    assert.match(
      e.stdout,
      /^accuracy [\d.]+% {2}loss [\d.]+ {2}on 8 images \(synthetic:8, test, accelerator\)/m,
    );
    assert.match(e.stderr, /^accelerators: \d+ products, 0 retries, [\d.]+ MiB sent$/m);
  });
});

describe('mode flags', () => {
  it('refuses flags that do not fit the mode (exit 2, one line)', async () => {
    const cases: [string[], RegExp][] = [
      [['--mode', 'gpu'], /--mode must be one of native, enclave, split, accelerator/],
      [['--enclave', '127.0.0.1:1'], /--enclave is for --mode enclave, split or accelerator/],
      [['--mode', 'enclave', '--accelerator', '127.0.0.1:1'], /--accelerator is for --mode split/],
      [['--mode', 'split'], /--mode split needs --accelerator/],
      [
        ['--mode', 'split', '--enclave', '127.0.0.1:1', '--checkpoint', '/tmp/x.ckpt'],
        /--checkpoint names a sealed checkpoint/,
      ],
      [
        ['--mode', 'accelerator', '--accelerator', '127.0.0.1:1', '--integrity', 'exact'],
        /unprotected baseline/,
      ],
      [['--mode', 'enclave', '--mrenclave', 'abc'], /mrEnclave must be 32 bytes of hex/],
      [
        ['--mode', 'split', '--accelerator', '127.0.0.1:1', '--field', 'p48'],
        /--field must be one of wide, p24/,
      ],
      [
        ['--mode', 'split', '--accelerator', '127.0.0.1:1', '--integrity', 'float', '--field', 'wide'],
        /--field is for --integrity exact/,
      ],
      [['--mode', 'enclave', '--field', 'p24'], /--field is for --mode split/],
      [
        ['--mode', 'accelerator', '--accelerator', '127.0.0.1:1', '--field', 'p24'],
        /--field is not used by --mode accelerator/,
      ],
      [
        ['--mode', 'split', '--accelerator', '127.0.0.1:1', '--accelerator-timeout', '0'],
        /--accelerator-timeout must be a number of seconds in \(0, 86400\], got '0'/,
      ],
      [['--mode', 'enclave', '--accelerator-timeout', '5'], /--accelerator-timeout is for --mode split/],
    ];
    for (const [extra, pattern] of cases) {
      const r = await cli(trainArgs(f('x.safetensors'), extra));
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('starts a trusted process itself (direct launcher) when no --enclave is given', async () => {
    assert.ok(
      COMMANDS.some((c) => c.name === 'enclave'),
      'the enclave command is registered',
    );
    const r = await cli(trainArgs(f('auto.safetensors'), ['--mode', 'enclave', '--allow-simulated']));
    ok(r, 'auto-started enclave');
    assert.ok(readFileSync(f('auto.safetensors')).equals(native.bytes));
  });
});

describe('runRemote', () => {
  it('starts a direct trusted process, trains in it, streams progress and returns the native model', async () => {
    // An app root whose CLI runs `tee-offload enclave` (whatever src/cli/commands.ts registers).
    const app = join(dir, 'app');
    mkdirSync(join(app, 'dist', 'src', 'cli'), { recursive: true });
    writeFileSync(
      join(app, 'dist', 'src', 'cli', 'main.js'),
      `process.argv.splice(2, 1);\nawait import(${JSON.stringify(pathToFileURL(ENCLAVE_CHILD).href)});\n`,
    );
    const events: string[] = [];
    const out = await runRemote({
      appDir: app,
      enclaveStderr: 'ignore',
      attestation: { allowSimulated: true },
      uploads: [],
      job: {
        type: 'train',
        job: {
          mode: 'enclave',
          data: { kind: 'synthetic', length: 16 },
          threads: 1,
          settings: {
            model: 'alexnet',
            numClasses: 10,
            inputSize: 63,
            batchSize: 4,
            steps: 2,
            lr: 0.01,
            momentum: 0.9,
            weightDecay: 5e-4,
            nesterov: false,
            schedule: 'constant',
            seed: 3,
            augment: true,
          },
        },
      },
      reporter: { event: (e) => events.push(e.type), close: () => {} },
      save: f('run-remote.safetensors'),
    });
    assert.equal(out.attestation, 'simulated');
    assert.deepEqual(events, ['step', 'step', 'done']);
    assert.deepEqual(out.losses, native.losses);
    assert.ok(readFileSync(f('run-remote.safetensors')).equals(native.bytes));
    assert.ok(out.result.kind === 'train' && out.result.summary.steps === 2);
  });

  it('refuses to start a simulated trusted process without allowSimulated (E_ATTEST, nothing started)', async () => {
    await assert.rejects(
      runRemote({
        appDir: join(dir, 'no-such-app'),
        attestation: {},
        uploads: [],
        job: {
          type: 'infer',
          job: {
            mode: 'enclave',
            data: { kind: 'synthetic', length: 1 },
            weights: 'w',
            model: 'alexnet',
            numClasses: 10,
            batchSize: 1,
            topk: 1,
          },
        },
      }),
      (e: unknown) => isTeeError(e, 'E_ATTEST') && /--allow-simulated/.test((e as Error).message),
    );
  });
});

describe('the trusted process', () => {
  it('shuts down on SIGTERM with status 0', async () => {
    const e = await startChildEnclave();
    const { code, signal } = await e.stop();
    assert.equal(signal, null);
    assert.equal(code, 0, e.stderr());
    assert.match(e.stderr(), /SIGTERM: shutting down/);
  });
});
