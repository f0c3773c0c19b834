import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { makeRequest } from '../protocol/requests.js';
import { startServer, type TestServer } from './harness.js';
import { referenceModp } from './modp-reference.js';

const DIMS = { n: 2, c: 2, h: 5, w: 5, o: 3, k: 3, stride: 1, padding: 1, i: 4 };

// A throw-away self-signed certificate for 127.0.0.1, made by the openssl command line.
function makeCert(dir: string): { cert: Buffer; key: Buffer } | null {
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  if (r.status !== 0) return null;
  return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
}

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-tls-'));
const pem = makeCert(dir);

describe('TLS between client and accelerator', {
  skip: pem === null ? 'openssl is not installed' : false,
  timeout: 30_000,
}, () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ tls: pem! });
  });
  after(async () => {
    await s.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serves exact products over TLS to a client that trusts the certificate', async () => {
    const c = await AcceleratorClient.connect(s.address, { tls: { ca: pem!.cert } });
    try {
      for (const op of ['conv2d', 'denseGradWeight'] as const) {
        const req = makeRequest(new SeededRng(2), op, 'modp', DIMS, 0.5);
        assert.deepEqual((await c.call(req)).result.data, referenceModp(req));
      }
    } finally {
      await c.close();
    }
  });

  test('a client that does not trust the certificate fails to connect (E_NETWORK)', async () => {
    await assert.rejects(
      AcceleratorClient.connect(s.address, { tls: true }),
      (e) => isTeeError(e, 'E_NETWORK') && /^cannot connect to accelerator .*: .*SELF_SIGNED/.test(e.message),
    );
  });

  test('a plain-TCP client is refused by a TLS accelerator (E_NETWORK), which logs the failed handshake', async () => {
    await assert.rejects(AcceleratorClient.connect(s.address, { connectTimeoutMs: 2000 }), (e) =>
      isTeeError(e, 'E_NETWORK'),
    );
    assert.ok(s.logs.some((l) => /tls handshake failed/.test(l)));
  });
});
