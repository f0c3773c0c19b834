import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { makeRequest } from '../protocol/requests.js';
import { makeSelfSignedCert } from '../tls-cert.js';
import { startServer, type TestServer } from './harness.js';
import { referenceModp } from './modp-reference.js';

const DIMS = { n: 2, c: 2, h: 5, w: 5, o: 3, k: 3, stride: 1, padding: 1, i: 4 };

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-tls-'));
const pem = makeSelfSignedCert(join(dir, 'cert.pem'), join(dir, 'key.pem'));

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
