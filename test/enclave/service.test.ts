// The trusted process's service on a real socket (port 0), with a client speaking the session protocol
// directly: a well-formed session works; every malformed or hostile message (bad names, oversized
// uploads, unknown types, out-of-order chunks, oversized records, wrong keys) is refused with the right
// code and ends that session only; sessions queue; close() stops a running job; private directories go.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SessionClient } from '../../src/client/session-client.js';
import { EnclaveService } from '../../src/enclave/service.js';
import { isTeeError } from '../../src/errors.js';
import { encodeSessionMessage } from '../../src/protocol/session-codec.js';
import { type EnclaveMessage, MAX_SESSION_MESSAGE_BYTES } from '../../src/protocol/session-messages.js';
import { encryptBuffer } from '../../src/secure/aead-file.js';
import { connectSecure } from '../../src/secure/handshake.js';
import { generateKey } from '../../src/secure/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-service-'));
const work = join(dir, 'work');
let service: EnclaveService;
let port = 0;
const logs: string[] = [];

before(async () => {
  mkdirSync(work);
  service = new EnclaveService({
    launcher: 'direct',
    maxUploadBytes: 1 << 20,
    workParent: work,
    log: (l) => logs.push(l),
  });
  port = (await service.listen(0)).port;
});

after(async () => {
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(
  p = port,
  maxRecordBytes = MAX_SESSION_MESSAGE_BYTES,
): Promise<{ client: SessionClient; first: EnclaveMessage }> {
  const channel = await connectSecure({ host: '127.0.0.1', port: p, allowSimulated: true, maxRecordBytes });
  const client = new SessionClient(channel);
  return { client, first: await client.next() };
}

async function ready(p = port): Promise<SessionClient> {
  const { client, first } = await open(p);
  assert.equal(first.type, 'ready');
  return client;
}

async function refused(client: SessionClient, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(
    async () => {
      for (;;) await client.next();
    },
    (e: unknown) => {
      assert.ok(isTeeError(e), String(e));
      assert.equal((e as { code: string }).code, code, (e as Error).message);
      assert.match((e as Error).message, pattern);
      return true;
    },
  );
  client.channel.destroy();
}

/** The session's private directory is gone once the service logged the session's end. */
async function settled(): Promise<void> {
  for (let i = 0; i < 200 && readdirSync(work).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(readdirSync(work), [], 'private session directories are removed');
}

function trainJob(steps: number) {
  return {
    mode: 'enclave' as const,
    data: { kind: 'synthetic' as const, length: 16 },
    settings: {
      model: 'alexnet',
      numClasses: 10,
      inputSize: 63,
      batchSize: 4,
      steps,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 0,
      nesterov: false,
      schedule: 'constant' as const,
      seed: 1,
      augment: false,
    },
  };
}

function uploadBytes(name: string, bytes: Uint8Array, encrypted = false) {
  return { type: 'upload' as const, name, offset: 0, total: bytes.byteLength, encrypted, body: bytes };
}

describe('enclave service', () => {
  it('serves a session: ready, an acknowledged upload in two chunks, a train job with progress and the model', async () => {
    const client = await ready();
    try {
      const w = new Uint8Array(1000).map((_, i) => i & 0xff);
      await client.send({
        type: 'upload',
        name: 'notes.bin',
        offset: 0,
        total: 1000,
        encrypted: false,
        body: w.subarray(0, 600),
      });
      await client.send({
        type: 'upload',
        name: 'notes.bin',
        offset: 600,
        total: 1000,
        encrypted: false,
        body: w.subarray(600),
      });
      assert.deepEqual(await client.next(), {
        type: 'uploaded',
        name: 'notes.bin',
        bytes: 1000,
        decrypted: false,
      });
      await client.send({ type: 'train', job: trainJob(2) });
      const seen: string[] = [];
      let modelBytes = 0;
      for (;;) {
        const m = await client.next();
        seen.push(m.type === 'progress' ? m.event.type : m.type);
        if (m.type === 'model') modelBytes += m.body.byteLength;
        if (m.type === 'result') {
          assert.ok(
            m.kind === 'train' && m.summary.steps === 2 && m.modelBytes === modelBytes && modelBytes > 0,
          );
          break;
        }
      }
      assert.deepEqual(
        seen.filter((t) => t !== 'model'),
        ['step', 'step', 'done', 'result'],
      );
      await client.close();
    } finally {
      client.channel.destroy();
    }
    await settled();
  });

  it('refuses an upload name that would leave the private directory (E_FRAME)', async () => {
    const client = await ready();
    await client.channel.send(encodeSessionMessage(uploadBytes('../../escape', Uint8Array.of(1))));
    await refused(client, 'E_FRAME', /upload\.name: not a valid name/);
    await settled();
  });

  it('refuses an upload larger than the limit before taking its bytes (E_FRAME)', async () => {
    const client = await ready();
    await client.send({
      type: 'upload',
      name: 'big.bin',
      offset: 0,
      total: (1 << 20) + 1,
      encrypted: false,
      body: new Uint8Array(10),
    });
    await refused(client, 'E_FRAME', /upload big\.bin: 1048577 bytes exceeds the limit of 1048576/);
    await settled();
  });

  it('refuses an unknown message type, and a message type only the trusted process sends (E_FRAME)', async () => {
    const a = await ready();
    const header = new TextEncoder().encode(JSON.stringify({ type: 'exec', cmd: 'id', bodyBytes: 0 }));
    const rec = new Uint8Array(4 + header.length);
    new DataView(rec.buffer).setUint32(0, header.length);
    rec.set(header, 4);
    await a.channel.send(rec);
    await refused(a, 'E_FRAME', /unknown message type "exec" from the client/);
    const b = await ready();
    await b.channel.send(
      encodeSessionMessage({ type: 'ready', version: 1, launcher: 'direct', sealing: null }),
    );
    await refused(b, 'E_FRAME', /unknown message type "ready" from the client/);
    await settled();
  });

  it('refuses chunks out of order, a key before its upload is complete, a second upload of a name', async () => {
    const a = await ready();
    await a.send({
      type: 'upload',
      name: 'x',
      offset: 0,
      total: 4,
      encrypted: false,
      body: Uint8Array.of(1, 2),
    });
    await a.send({
      type: 'upload',
      name: 'x',
      offset: 3,
      total: 4,
      encrypted: false,
      body: Uint8Array.of(4),
    });
    await refused(a, 'E_FRAME', /chunk at offset 3, expected 2/);
    const b = await ready();
    await b.send({
      type: 'upload',
      name: 'y',
      offset: 0,
      total: 4,
      encrypted: true,
      body: Uint8Array.of(1, 2),
    });
    await b.send({ type: 'key', name: 'y', body: new Uint8Array(32) });
    await refused(b, 'E_FRAME', /key for y: the upload is not complete/);
    const c = await ready();
    await c.send(uploadBytes('z', Uint8Array.of(1)));
    assert.equal((await c.next()).type, 'uploaded');
    await c.send(uploadBytes('z', Uint8Array.of(2)));
    await refused(c, 'E_FRAME', /upload z: already complete/);
    await settled();
  });

  it('refuses a job that names data that was not uploaded (E_USAGE)', async () => {
    const a = await ready();
    await a.send({
      type: 'eval',
      job: {
        mode: 'enclave',
        data: { kind: 'upload', name: 'data' },
        weights: 'w',
        model: 'alexnet',
        numClasses: 10,
        batchSize: 4,
        split: 'test',
      },
    });
    await refused(a, 'E_USAGE', /data data was not uploaded in this session/);
    await settled();
  });

  it('closes the channel on a record over the session limit (E_FRAME), then serves the next session', async () => {
    const { client, first } = await open(port, 2 * MAX_SESSION_MESSAGE_BYTES);
    assert.equal(first.type, 'ready');
    await client.channel.send(new Uint8Array(MAX_SESSION_MESSAGE_BYTES + 1)).catch(() => {});
    await refused(client, 'E_NETWORK', /./);
    const next = await ready();
    await next.close();
    await settled();
  });

  it('decrypts an encrypted upload inside with its key; a wrong key is E_AUTH and leaves nothing', async () => {
    const key = generateKey();
    const plain = new TextEncoder().encode('{"not":"really a weights file"}');
    const enc = encryptBuffer(key, plain);
    const a = await ready();
    await a.send(uploadBytes('p.json', enc, true));
    await a.send({ type: 'key', name: 'p.json', body: key.slice() });
    assert.deepEqual(await a.next(), {
      type: 'uploaded',
      name: 'p.json',
      bytes: plain.byteLength,
      decrypted: true,
    });
    await a.close();
    await settled();
    const b = await ready();
    await b.send(uploadBytes('p.json', enc, true));
    await b.send({ type: 'key', name: 'p.json', body: generateKey() });
    await refused(b, 'E_AUTH', /failed authentication/);
    await settled();
  });

  it('queues a second client and tells it its position; it starts when the first one ends', async () => {
    const a = await ready();
    const { client: b, first } = await open();
    assert.deepEqual(first, { type: 'queued', position: 1 });
    await a.close();
    assert.equal((await b.next()).type, 'ready');
    await b.close();
    await settled();
  });

  it('closes a session whose client says nothing (keyless peers can open one), then serves the next', async () => {
    const s = new EnclaveService({
      launcher: 'direct',
      workParent: work,
      log: () => {},
      sessionIdleTimeoutMs: 300,
    });
    const p = (await s.listen(0)).port;
    try {
      const mute = await ready(p);
      const { client: next, first } = await open(p);
      assert.deepEqual(first, { type: 'queued', position: 1 });
      const t0 = performance.now();
      await refused(
        mute,
        'E_NETWORK',
        /no message from the client for 0\.3 s while no job ran: the session is closed/,
      );
      assert.ok(performance.now() - t0 < 5000);
      assert.equal(
        (await next.next()).type,
        'ready',
        'the waiting client is served once the mute one is closed',
      );
      await next.close();
    } finally {
      await s.close();
    }
  });

  it('refuses a job this enclave was not sized for (E_USAGE)', async () => {
    const limited = new EnclaveService({
      launcher: 'direct',
      limits: { model: 'resnet18' },
      workParent: work,
      log: () => {},
    });
    const p = (await limited.listen(0)).port;
    try {
      const a = await ready(p);
      await a.send({ type: 'train', job: trainJob(1) });
      await refused(a, 'E_USAGE', /this enclave was built for --model resnet18, not alexnet/);
    } finally {
      await limited.close();
    }
    await settled();
  });

  it('stops the job of a client that went away and removes its directory', async () => {
    const a = await ready();
    await a.send({ type: 'train', job: trainJob(1000) });
    const m = await a.next();
    assert.ok(m.type === 'progress' && m.event.type === 'step');
    const before = logs.length;
    a.channel.destroy();
    for (let i = 0; i < 3000 && logs.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(logs.at(-1)!, /(closed|E_NETWORK) jobs=\[train alexnet enclave\]/);
    await settled();
    // The service goes on serving.
    const b = await ready();
    await b.close();
    await settled();
  });

  it('close() stops a running job at its next step: the client is told, the directory is removed', async () => {
    const s = new EnclaveService({ launcher: 'direct', workParent: work, log: () => {} });
    const p = (await s.listen(0)).port;
    const a = await ready(p);
    await a.send({ type: 'train', job: trainJob(1000) });
    const m = await a.next();
    assert.ok(m.type === 'progress' && m.event.type === 'step' && m.event.step === 1);
    const closed = s.close();
    await refused(a, 'E_NETWORK', /shutting down/);
    await closed;
    await settled();
  });
});
