// TLS between the CLI's jobs and the accelerators, end to end: `tee-offload accelerator --tls-cert/--tls-key`
// refuses a bad pair with one line and its code before it starts; train --mode split (the trusted process
// connects, with the CA the job carries) and --mode accelerator (this process connects) reach a TLS
// accelerator with --accelerator-ca; a missing or wrong CA, or TLS to a plain accelerator, is E_NETWORK.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AcceleratorServer, startAcceleratorServer } from '../../src/accelerator/server.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { formatAddress } from '../../src/protocol/address.js';
import { decodeClientMessage, encodeSessionMessage } from '../../src/protocol/session-codec.js';
import { MAX_TLS_CA_CHARS, type TrainJob } from '../../src/protocol/session-messages.js';
import { makeSelfSignedCert } from '../tls-cert.js';
import {
  type Accelerator,
  type ChildEnclave,
  type CliResult,
  cli,
  startAccelerator,
  startChildEnclave,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-acc-tls-'));
const p = (name: string) => join(dir, name);

// A throw-away self-signed certificate (NAME.cert.pem, NAME.key.pem).
function makeCert(name: string): boolean {
  return makeSelfSignedCert(p(`${name}.cert.pem`), p(`${name}.key.pem`)) !== null;
}

const haveOpenssl = (() => {
  try {
    return makeCert('a') && makeCert('b');
  } catch {
    return false; // no openssl on the PATH
  }
})();
const skip = haveOpenssl ? false : 'openssl is not installed';
after(() => rmSync(dir, { recursive: true, force: true }));

/** The tiny job of every run here: ResNet-18 at 32×32, one step of 4 synthetic images, one thread. */
const TRAIN = [
  'train',
  '--model',
  'resnet18',
  '--data',
  'synthetic:8',
  '--input-size',
  '32',
  '--steps',
  '1',
  '--batch-size',
  '4',
  '--threads',
  '1',
  '--json',
];

/** Exactly one line on stderr, `tee-offload: CODE: ...`, no trace; and the exit status. */
function oneLine(r: CliResult, status: number, code: string, pattern: RegExp): void {
  assert.equal(r.code, status, r.stderr);
  // The only other line a split run may print: --allow-simulated's warning.
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !/^warning: .*SIMULATED attestation/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`^tee-offload: ${code}: `));
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /unexpected failure|\n\s+at /);
}

describe('tee-offload accelerator with a bad --tls-cert/--tls-key', { skip }, () => {
  before(() => {
    writeFileSync(p('junk.pem'), 'not a certificate\n');
    const enc = spawnSync('openssl', [
      'pkey',
      '-in',
      p('a.key.pem'),
      '-aes256',
      '-passout',
      'pass:secret',
      '-out',
      p('enc.key.pem'),
    ]);
    assert.equal(enc.status, 0);
  });

  const run = (cert: string, key: string) =>
    cli(['accelerator', '--listen', '127.0.0.1:0', '--tls-cert', p(cert), '--tls-key', p(key)], 30_000);

  it('a key that is not the certificate’s is E_USAGE (exit 2), one line, nothing started', async () => {
    oneLine(await run('b.cert.pem', 'a.key.pem'), 2, 'E_USAGE', /is not the private key of --tls-cert/);
  });

  it('swapped files are E_USAGE (exit 2)', async () => {
    oneLine(await run('a.key.pem', 'a.cert.pem'), 2, 'E_USAGE', /--tls-cert and --tls-key are swapped/);
    oneLine(await run('a.key.pem', 'a.key.pem'), 2, 'E_USAGE', /holds a private key, not a certificate/);
    oneLine(await run('a.cert.pem', 'a.cert.pem'), 2, 'E_USAGE', /holds a certificate, not a private key/);
  });

  it('a file that is not PEM of its kind is E_FORMAT (exit 3)', async () => {
    oneLine(await run('junk.pem', 'a.key.pem'), 3, 'E_FORMAT', /--tls-cert .* is not a PEM certificate/);
    oneLine(await run('a.cert.pem', 'junk.pem'), 3, 'E_FORMAT', /--tls-key .* is not a PEM private key/);
    oneLine(await run('a.cert.pem', 'enc.key.pem'), 3, 'E_FORMAT', /is encrypted with a passphrase/);
  });

  it('a missing file stays E_IO (exit 5)', async () => {
    oneLine(await run('a.cert.pem', 'missing.pem'), 5, 'E_IO', /cannot read the TLS key/);
  });
});

describe('train and --mode accelerator against a TLS accelerator', { skip, timeout: 600_000 }, () => {
  let tlsServer: AcceleratorServer;
  let tlsAddress: string;
  let plain: Accelerator;
  let enclave: ChildEnclave;

  before(async () => {
    tlsServer = await startAcceleratorServer({
      port: 0,
      host: '127.0.0.1',
      threads: 1,
      log: () => {},
      tls: { cert: readFileSync(p('a.cert.pem')), key: readFileSync(p('a.key.pem')) },
    });
    const a = tlsServer.address();
    tlsAddress = formatAddress({ host: a.address, port: a.port });
    plain = await startAccelerator();
    enclave = await startChildEnclave();
  });

  after(async () => {
    await tlsServer?.close();
    await plain?.server.close();
    await enclave?.stop();
  });

  const split = (accelerator: string, extra: readonly string[] = [], running = true) =>
    cli([
      ...TRAIN,
      '--mode',
      'split',
      '--accelerator',
      accelerator,
      ...(running ? ['--enclave', enclave.address] : []),
      '--allow-simulated',
      ...extra,
    ]);

  it('train --mode split --accelerator-ca reaches it (a trusted process started here connects)', async () => {
    const r = await split(tlsAddress, ['--accelerator-ca', p('a.cert.pem')], false);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"type":"done"/);
    assert.ok(tlsServer.stats().ops > 0, 'the TLS accelerator served products');
  });

  it('without --accelerator-ca it fails with E_NETWORK, hinting at TLS', async () => {
    oneLine(await split(tlsAddress), 7, 'E_NETWORK', /TLS.*--accelerator-ca/);
  });

  it('with a CA that did not sign its certificate it fails with E_NETWORK', async () => {
    oneLine(
      await split(tlsAddress, ['--accelerator-ca', p('b.cert.pem')]),
      7,
      'E_NETWORK',
      /cannot connect to accelerator .*SELF_SIGNED.*not trusted here/,
    );
  });

  it('TLS to a plain-TCP accelerator fails with E_NETWORK, saying it is not TLS', async () => {
    oneLine(await split(plain.address, ['--accelerator-ca', p('a.cert.pem')]), 7, 'E_NETWORK', /not TLS/);
  });

  it('train --mode accelerator --accelerator-ca reaches it (this process connects)', async () => {
    const before = tlsServer.stats().ops;
    const r = await cli([
      ...TRAIN,
      '--mode',
      'accelerator',
      '--accelerator',
      tlsAddress,
      '--accelerator-ca',
      p('a.cert.pem'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(tlsServer.stats().ops > before);
    const bad = await cli([...TRAIN, '--mode', 'accelerator', '--accelerator', tlsAddress]);
    assert.equal(bad.code, 7, bad.stderr);
    assert.match(bad.stderr, /E_NETWORK: .*TLS/);
  });

  it('refuses the TLS flags where they do not apply (E_USAGE) and a CA file that is not PEM (E_FORMAT)', async () => {
    const ca = p('a.cert.pem');
    const cases: [string[], number, string, RegExp][] = [
      [
        ['--accelerator-ca', ca],
        2,
        'E_USAGE',
        /--accelerator-ca is for --mode enclave, split or accelerator/,
      ],
      [['--mode', 'enclave', '--accelerator-tls'], 2, 'E_USAGE', /--accelerator-tls is for --mode split/],
      [
        ['--mode', 'split', '--enclave', '127.0.0.1:1', '--accelerator-ca', ca],
        2,
        'E_USAGE',
        /--accelerator-ca needs --accelerator/,
      ],
      [
        ['--mode', 'split', '--accelerator', '127.0.0.1:1', '--accelerator-ca', ca, '--accelerator-tls'],
        2,
        'E_USAGE',
        /not both/,
      ],
      [
        ['--mode', 'accelerator', '--accelerator', '127.0.0.1:1', '--accelerator-ca', p('a.key.pem')],
        3,
        'E_FORMAT',
        /holds no PEM certificate/,
      ],
      [
        ['--mode', 'split', '--accelerator', '127.0.0.1:1', '--accelerator-ca', p('none.pem')],
        5,
        'E_IO',
        /cannot read --accelerator-ca/,
      ],
    ];
    for (const [extra, status, code, pattern] of cases)
      oneLine(await cli([...TRAIN, ...extra]), status, code, pattern);
  });
});

describe('a job’s acceleratorTls (session message)', { skip }, () => {
  const job: TrainJob = {
    mode: 'split',
    data: { kind: 'synthetic', length: 8 },
    accelerators: ['127.0.0.1:7070'],
    settings: {
      model: 'resnet18',
      numClasses: 10,
      steps: 1,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
      nesterov: false,
      schedule: 'constant',
      seed: 1,
      augment: false,
    },
  };
  const decode = (patch: Record<string, unknown>) =>
    decodeClientMessage(encodeSessionMessage({ type: 'train', job: { ...job, ...patch } as TrainJob }));
  const refused = (patch: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => decode(patch),
      (e: unknown) => isTeeError(e, 'E_FRAME') && pattern.test((e as Error).message),
    );

  it('carries PEM certificates, or nothing for the system CAs', () => {
    const ca = readFileSync(p('a.cert.pem'), 'latin1') + readFileSync(p('b.cert.pem'), 'latin1');
    const m = decode({ acceleratorTls: { ca } });
    assert.deepEqual(m.type === 'train' && m.job.acceleratorTls, { ca });
    const s = decode({ acceleratorTls: {} });
    assert.deepEqual(s.type === 'train' && s.job.acceleratorTls, {});
  });

  it('refuses anything but certificates, an oversized CA, unknown fields and TLS without accelerators', () => {
    const cert = readFileSync(p('a.cert.pem'), 'latin1');
    refused({ acceleratorTls: { ca: readFileSync(p('a.key.pem'), 'latin1') } }, /expected PEM certificates/);
    refused({ acceleratorTls: { ca: `hello\n${cert}` } }, /expected PEM certificates/);
    refused(
      { acceleratorTls: { ca: cert.repeat(Math.ceil(MAX_TLS_CA_CHARS / cert.length) + 1) } },
      /at most/,
    );
    refused({ acceleratorTls: { ca: cert, servername: 'x' } }, /unknown field 'servername'/);
    refused({ acceleratorTls: true }, /expected an object/);
    refused(
      { accelerators: undefined, acceleratorTls: {} },
      /acceleratorTls: is for the job's own accelerators/,
    );
  });
});

describe('a plain-TCP client meeting a TLS server', () => {
  it('that answers with a TLS alert record is E_NETWORK saying it serves TLS', async () => {
    // A TLS 1.2 fatal alert (protocol_version), as some TLS servers send to a non-TLS peer.
    const server = createServer((s) => {
      s.resume(); // read (and drop) the client's hello, so that its close is seen
      s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]));
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(
        AcceleratorClient.connect(`127.0.0.1:${port}`, { connectTimeoutMs: 5000 }),
        (e: unknown) =>
          isTeeError(e, 'E_NETWORK') && /answered in TLS: it serves TLS; connect with TLS/.test(e.message),
      );
    } finally {
      await new Promise((res) => server.close(res));
    }
  });
});
