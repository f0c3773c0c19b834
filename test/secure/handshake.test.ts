import assert from 'node:assert/strict';
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTeeError, TeeError } from '../../src/errors.js';
import type { SecureChannel } from '../../src/secure/channel.js';
import {
  type AttestationProvider,
  type AttestationVerifier,
  clientHandshake,
  connectSecure,
  expectedReportData,
  serverHandshake,
} from '../../src/secure/handshake.js';
import {
  gramineAttestation,
  parseSimulatedEvidence,
  SIMULATED_EVIDENCE_LABEL,
  simulatedAttestation,
} from '../../src/secure/handshake-attestation.js';
import { hkdfInfo, hkdfSha256 } from '../../src/secure/hkdf.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

interface Harness {
  readonly port: number;
  /** Resolves with the server side of the next connection (or its handshake error). */
  next(): Promise<SecureChannel>;
}

/** A server on 127.0.0.1, port 0, that runs the server handshake on every connection. */
async function listen(attestation: AttestationProvider, timeoutMs?: number): Promise<Harness> {
  const results: Promise<SecureChannel>[] = [];
  const waiting: ((p: Promise<SecureChannel>) => void)[] = [];
  const server = createServer((socket) => {
    const p = serverHandshake(socket, { attestation, ...(timeoutMs ? { timeoutMs } : {}) });
    p.catch(() => {});
    const w = waiting.shift();
    if (w) w(p);
    else results.push(p);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    next: () => {
      const p = results.shift();
      return p ?? new Promise<Promise<SecureChannel>>((r) => waiting.push(r)).then((x) => x);
    },
  };
}

function code(c: string, message?: string | RegExp) {
  return (e: unknown) => {
    assert.ok(isTeeError(e), `expected TeeError ${c}, got ${e}`);
    assert.equal(e.code, c, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

/** A stand-in SGX quote: DCAP v3 layout as far as report_data (48-byte header, body offset 320). */
const REPORT_DATA_OFFSET = 48 + 320;
function fakeQuote(reportData: Uint8Array): Uint8Array {
  const q = new Uint8Array(REPORT_DATA_OFFSET + 64 + 100);
  q[0] = 3; // version 3
  q.set(reportData, REPORT_DATA_OFFSET);
  return q;
}
function fakeSgx(transform: (rd: Uint8Array) => Uint8Array = (rd) => rd): AttestationProvider {
  return { kind: 'sgx', quote: async (rd) => fakeQuote(transform(rd)) };
}
/** A verifier that checks only what this test can: that the quote's report_data is the expected one. */
const bindingVerifier: AttestationVerifier = (evidence, expected) => {
  const rd = evidence.subarray(REPORT_DATA_OFFSET, REPORT_DATA_OFFSET + 64);
  if (!Buffer.from(rd).equals(Buffer.from(expected))) {
    throw new TeeError('E_ATTEST', 'quote report_data does not bind the server key and nonce');
  }
};

describe('handshake', () => {
  test('round trip with SIMULATED attestation when the client allows it', async () => {
    const h = await listen(simulatedAttestation());
    const client = await connectSecure({ host: '127.0.0.1', port: h.port, allowSimulated: true });
    const server = await h.next();
    assert.equal(client.info.attestation, 'simulated');
    assert.equal(server.info.attestation, 'none');
    assert.deepEqual(client.info.transcriptHash, server.info.transcriptHash);
    const messages = [
      new Uint8Array(0),
      Uint8Array.of(7),
      new Uint8Array(randomBytes(100_000)),
      new Uint8Array(randomBytes(5_000_000)),
    ];
    for (const m of messages) await client.send(m);
    for (const m of messages) assert.deepEqual(await server.receive(), m);
    // and back
    await server.send(Uint8Array.of(1, 2, 3));
    assert.deepEqual(await client.receive(), Uint8Array.of(1, 2, 3));
    await client.close();
    assert.equal(await server.receive(), null);
    await server.close();
    assert.equal(await client.receive(), null);
    assert.equal(await client.receive(), null, 'stays closed');
  });

  test('SIMULATED attestation is refused without allowSimulated (E_ATTEST); the server sees the connection drop', async () => {
    const h = await listen(simulatedAttestation());
    await assert.rejects(
      connectSecure({ host: '127.0.0.1', port: h.port }),
      code(
        'E_ATTEST',
        'the server offered SIMULATED attestation (no TEE); refused (allowSimulated is for development only)',
      ),
    );
    await assert.rejects(h.next(), code('E_NETWORK'));
  });

  test('a SIMULATED record whose report_data does not bind the key is refused even with allowSimulated', async () => {
    const liar: AttestationProvider = {
      kind: 'simulated',
      quote: async () => simulatedAttestation().quote(new Uint8Array(64)),
    };
    const h = await listen(liar);
    await assert.rejects(
      connectSecure({ host: '127.0.0.1', port: h.port, allowSimulated: true }),
      code('E_ATTEST', "the SIMULATED attestation's report_data does not bind the server key and nonce"),
    );
  });

  test('an SGX quote that binds the server key and nonce passes the verifier', async () => {
    const h = await listen(fakeSgx());
    let seen: Uint8Array | undefined;
    const client = await connectSecure({
      host: '127.0.0.1',
      port: h.port,
      verifier: (ev, rd, info) => {
        assert.equal(info.kind, 'sgx');
        seen = rd;
        return bindingVerifier(ev, rd, info);
      },
    });
    const server = await h.next();
    assert.equal(client.info.attestation, 'sgx');
    assert.equal(seen!.length, 64);
    assert.deepEqual(seen!.subarray(32), new Uint8Array(32), 'report_data is zero-padded to 64 bytes');
    await server.send(Uint8Array.of(42));
    assert.deepEqual(await client.receive(), Uint8Array.of(42));
    client.destroy();
    server.destroy();
  });

  test('a quote whose report_data binds another key (a relayed quote) is refused by the verifier (E_ATTEST)', async () => {
    // The attacker relays a genuine quote made for its own key, or for another nonce.
    const other = new Uint8Array(randomBytes(32));
    const relay = fakeSgx(() => expectedReportData(other, new Uint8Array(32)));
    const h = await listen(relay);
    await assert.rejects(
      connectSecure({ host: '127.0.0.1', port: h.port, verifier: bindingVerifier }),
      code('E_ATTEST', 'quote report_data does not bind the server key and nonce'),
    );
  });

  test('an SGX quote without a verifier is refused; a verifier throwing a plain Error becomes E_ATTEST', async () => {
    const h = await listen(fakeSgx());
    await assert.rejects(
      connectSecure({ host: '127.0.0.1', port: h.port, allowSimulated: true }),
      code('E_ATTEST', 'the server sent an SGX quote but no attestation verifier is configured'),
    );
    await assert.rejects(
      connectSecure({
        host: '127.0.0.1',
        port: h.port,
        verifier: () => {
          throw new Error('TCB status OutOfDate');
        },
      }),
      code('E_ATTEST', "the server's attestation was refused: TCB status OutOfDate"),
    );
  });

  test('report_data is SHA-256("tee-offload/v1" ‖ server key ‖ nonce) ‖ 0^32', () => {
    const key = new Uint8Array(randomBytes(32));
    const nonce = new Uint8Array(randomBytes(32));
    const want = createHash('sha256').update('tee-offload/v1').update(key).update(nonce).digest();
    assert.deepEqual(expectedReportData(key, nonce), new Uint8Array([...want, ...new Uint8Array(32)]));
  });

  test('a server that never answers fails the client handshake with E_NETWORK after the timeout', async () => {
    const silent = createServer(() => {});
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    await assert.rejects(
      connectSecure({ host: '127.0.0.1', port, allowSimulated: true, timeoutMs: 200 }),
      code('E_NETWORK', 'the handshake did not complete within 200 ms'),
    );
  });

  test('a refused connection is E_NETWORK', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    await assert.rejects(
      connectSecure({ host: '127.0.0.1', port, allowSimulated: true }),
      code('E_NETWORK', /cannot connect/),
    );
  });
});

/** A raw TCP client that speaks the framing by hand. */
async function raw(port: number): Promise<{ socket: Socket; frames: () => Promise<Uint8Array> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let buf = Buffer.alloc(0);
  const waiting: (() => void)[] = [];
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (const w of waiting.splice(0)) w();
  });
  socket.on('error', () => {});
  const frames = async (): Promise<Uint8Array> => {
    for (;;) {
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        const f = new Uint8Array(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
        return f;
      }
      await new Promise<void>((r) => waiting.push(r));
    }
  };
  return { socket, frames };
}

function framed(body: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt32BE(body.length);
  b.set(body, 4);
  return b;
}

describe('hostile clients', () => {
  test('a ClientHello announcing 4 GiB is E_FRAME as soon as its length arrives', async () => {
    const h = await listen(simulatedAttestation());
    const c = await raw(h.port);
    c.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await assert.rejects(
      h.next(),
      code('E_FRAME', 'frame of 4294967295 bytes exceeds the limit of 34 bytes'),
    );
    c.socket.destroy();
  });

  test('a malformed ClientHello is E_FRAME', async () => {
    const h = await listen(simulatedAttestation());
    const c = await raw(h.port);
    c.socket.write(framed(new Uint8Array(34).fill(9)));
    await assert.rejects(h.next(), code('E_FRAME', 'malformed ClientHello'));
    c.socket.destroy();
  });

  test('a low-order X25519 key from the client is refused (E_AUTH)', async () => {
    const h = await listen(simulatedAttestation());
    const c = await raw(h.port);
    const hello = new Uint8Array(34);
    hello[0] = 1;
    hello[1] = 1;
    c.socket.write(framed(hello));
    const sh = await c.frames();
    assert.equal(sh[0], 2);
    assert.deepEqual(parseSimulatedEvidence(sh.subarray(35)).length, 64);
    const ck = new Uint8Array(33);
    ck[0] = 3; // the all-zero public key has order 1
    c.socket.write(framed(ck));
    await assert.rejects(
      h.next(),
      code('E_AUTH', "key agreement failed: the peer's X25519 public key is invalid"),
    );
    c.socket.destroy();
  });

  test('a client that stalls mid-handshake is dropped after the timeout (E_NETWORK)', async () => {
    const h = await listen(simulatedAttestation(), 150);
    const c = await raw(h.port);
    await assert.rejects(h.next(), code('E_NETWORK', 'the handshake did not complete within 150 ms'));
    c.socket.destroy();
  });

  test('a Finished record from someone who does not hold the keys is refused', async () => {
    const h = await listen(simulatedAttestation());
    const c = await raw(h.port);
    const hello = new Uint8Array(34);
    hello[0] = 1;
    hello[1] = 1;
    c.socket.write(framed(hello));
    await c.frames();
    const ck = new Uint8Array(33);
    ck[0] = 3;
    ck.set(new Uint8Array(randomBytes(32)), 1);
    ck[32]! &= 0x7f;
    c.socket.write(framed(ck));
    // A record with counter 0 and a random body: its tag cannot verify.
    c.socket.write(framed(new Uint8Array(randomBytes(8 + 1 + 32 + 16)).fill(0, 0, 8)));
    await assert.rejects(
      h.next(),
      code('E_AUTH', 'record 0 failed authentication (modified in transit, or not from the peer)'),
    );
    c.socket.destroy();
  });
});

describe('attestation providers', () => {
  test('the simulated record is the SIMULATED label followed by report_data', async () => {
    const rd = new Uint8Array(randomBytes(64));
    const ev = await simulatedAttestation().quote(rd);
    assert.equal(
      Buffer.from(ev.subarray(0, SIMULATED_EVIDENCE_LABEL.length)).toString(),
      SIMULATED_EVIDENCE_LABEL,
    );
    assert.match(SIMULATED_EVIDENCE_LABEL, /^SIMULATED /);
    assert.deepEqual(parseSimulatedEvidence(ev), rd);
    assert.throws(
      () => parseSimulatedEvidence(ev.subarray(1)),
      code('E_ATTEST', 'malformed SIMULATED attestation record'),
    );
  });

  test("gramineAttestation writes user_report_data and returns Gramine's quote (against a stand-in directory)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tee-offload-gramine-'));
    try {
      writeFileSync(join(dir, 'attestation_type'), 'dcap\n');
      writeFileSync(join(dir, 'quote'), Buffer.from([3, 0, 2, 0]));
      const rd = new Uint8Array(randomBytes(64));
      const q = await gramineAttestation(dir).quote(rd);
      assert.deepEqual(q, Uint8Array.of(3, 0, 2, 0));
      assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'user_report_data'))), rd);
      writeFileSync(join(dir, 'attestation_type'), 'none\n');
      await assert.rejects(
        gramineAttestation(dir).quote(rd),
        code('E_ATTEST', "Gramine attestation type is 'none'; tee-offload needs 'dcap'"),
      );
      await assert.rejects(
        gramineAttestation(join(dir, 'missing')).quote(rd),
        code('E_ATTEST', /no Gramine attestation interface/),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HKDF-SHA256 (RFC 5869 appendix A test vectors)', () => {
  const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
  test('test case 1', () => {
    const okm = hkdfSha256(
      hex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      hex('000102030405060708090a0b0c'),
      hex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    assert.equal(
      Buffer.from(okm).toString('hex'),
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });
  test('test case 3 (empty salt and info)', () => {
    const okm = hkdfSha256(
      hex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      new Uint8Array(0),
      new Uint8Array(0),
      42,
    );
    assert.equal(
      Buffer.from(okm).toString('hex'),
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });
  test('labels are unambiguous and lengths are checked', () => {
    assert.notDeepEqual(
      hkdfInfo('x', Uint8Array.of(1, 2), Uint8Array.of(3)),
      hkdfInfo('x', Uint8Array.of(1), Uint8Array.of(2, 3)),
    );
    assert.deepEqual(
      Buffer.from(hkdfSync('sha256', Uint8Array.of(1), Uint8Array.of(2), hkdfInfo('y'), 16)),
      Buffer.from(
        hkdfSha256(Uint8Array.of(1), Uint8Array.of(2), new TextEncoder().encode('tee-offload/v1 y'), 16),
      ),
    );
    assert.throws(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1), {
      name: 'RangeError',
      message: 'HKDF-SHA256 length must be an integer in 1..8160, got 8161',
    });
  });
});

test('the client handshake over an already-connected socket works too', async () => {
  const h = await listen(simulatedAttestation());
  const socket = connect({ host: '127.0.0.1', port: h.port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const client = await clientHandshake(socket, { allowSimulated: true, maxRecordBytes: 1024 });
  const server = await h.next();
  assert.throws(() => client.send(new Uint8Array(1025)), {
    name: 'RangeError',
    message: 'message of 1025 bytes exceeds maxRecordBytes (1024)',
  });
  await client.send(new Uint8Array(1024));
  assert.equal((await server.receive())!.length, 1024);
  client.destroy();
  await assert.rejects(server.receive(), code('E_NETWORK'));
});
