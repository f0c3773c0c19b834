// The session messages of docs/enclave.md: every type round-trips through the codec, and everything a
// hostile peer could send that does not fit exactly (lengths, JSON, fields, names, bodies, directions) is
// refused with E_FRAME before anything acts on it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import {
  decodeClientMessage,
  decodeEnclaveMessage,
  encodeSessionMessage,
} from '../../src/protocol/session-codec.js';
import {
  type ClientMessage,
  type EnclaveMessage,
  isUploadName,
  MAX_BODY_BYTES,
  MAX_HEADER_BYTES,
  type TrainJob,
} from '../../src/protocol/session-messages.js';

const trainJob: TrainJob = {
  mode: 'split',
  data: { kind: 'upload', name: 'data/batch.safetensors' },
  weights: 'weights-a.pth',
  accelerators: ['127.0.0.1:7070', '[::1]:7071'],
  integrity: 'float',
  threads: 2,
  offloadMinIntensity: 4,
  settings: {
    model: 'resnet18',
    numClasses: 10,
    inputSize: 32,
    steps: 2,
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: false,
    schedule: 'cosine',
    seed: 3,
    augment: true,
  },
  checkpoint: 'run1.ckpt',
  checkpointEvery: 5,
  resume: 'run0.ckpt',
};

/** A raw record: u32 header length ‖ header text ‖ body. */
function raw(header: unknown, body = new Uint8Array(0), declared?: number): Uint8Array {
  const h =
    header instanceof Uint8Array
      ? header
      : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + body.length);
  new DataView(out.buffer).setUint32(0, declared ?? h.length);
  out.set(h, 4);
  out.set(body, 4 + h.length);
  return out;
}

function refused(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isTeeError(e, 'E_FRAME'), `expected E_FRAME, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

describe('session codec', () => {
  it('round-trips every client message type', () => {
    const msgs: ClientMessage[] = [
      {
        type: 'upload',
        name: 'data/data_batch_1.bin',
        offset: 0,
        total: 3,
        encrypted: false,
        body: Uint8Array.of(1, 2, 3),
      },
      { type: 'key', name: 'data/x.safetensors', body: new Uint8Array(32).fill(7) },
      { type: 'train', job: trainJob },
      { type: 'train', job: { ...trainJob, integrity: 'exact', field: 'p24' } },
      {
        type: 'eval',
        job: {
          mode: 'enclave',
          data: { kind: 'synthetic', length: 16 },
          weights: 'w',
          model: 'alexnet',
          numClasses: 10,
          batchSize: 8,
          split: 'test',
        },
      },
      {
        type: 'infer',
        job: {
          mode: 'enclave',
          data: { kind: 'upload', name: 'data' },
          weights: 'w',
          model: 'vgg11_bn',
          numClasses: 10,
          batchSize: 8,
          topk: 3,
          limit: 5,
        },
      },
    ];
    for (const m of msgs) assert.deepEqual(decodeClientMessage(encodeSessionMessage(m)), m, m.type);
  });

  it('round-trips every trusted-process message type, NaN travelling as null', () => {
    const msgs: EnclaveMessage[] = [
      { type: 'queued', position: 2 },
      { type: 'ready', version: 1, launcher: 'gramine-sgx', sealing: 'sgx-mrenclave' },
      { type: 'uploaded', name: 'weights-w.pth', bytes: 10, decrypted: true },
      { type: 'note', message: 'loaded 62 tensors' },
      {
        type: 'progress',
        event: {
          type: 'step',
          step: 1,
          totalSteps: 2,
          epoch: 0,
          loss: 2.3,
          lr: 0.01,
          imagesPerSec: 5,
          elapsedSec: 1,
        },
      },
      { type: 'progress', event: { type: 'checkpoint', step: 1, path: 'sealed:run1.ckpt' } },
      { type: 'prediction', rows: [{ index: 4, label: 3, top: [{ class: 3, p: 0.9 }] }] },
      { type: 'model', offset: 0, total: 4, body: Uint8Array.of(9, 8, 7, 6) },
      {
        type: 'result',
        kind: 'train',
        summary: {
          steps: 2,
          finalLoss: 2.1,
          elapsedSec: 3,
          imagesPerSec: 4,
          lastEval: { loss: 2, accuracy: 0.5 },
        },
        modelBytes: 4,
        remote: { calls: 46, retries: 0, failures: 0, bytesSent: 100, bytesReceived: 50, totalMs: 12.5 },
      },
      { type: 'result', kind: 'eval', summary: { loss: 1, accuracy: 0.25, samples: 16, seconds: 0.5 } },
      { type: 'result', kind: 'infer', summary: { images: 16, seconds: 0.5 } },
      { type: 'error', code: 'E_VERIFY', message: 'the accelerator lied' },
    ];
    for (const m of msgs) assert.deepEqual(decodeEnclaveMessage(encodeSessionMessage(m)), m, m.type);
    const nan = decodeEnclaveMessage(
      encodeSessionMessage({
        type: 'progress',
        event: { type: 'done', step: 0, elapsedSec: 0, imagesPerSec: 0, finalLoss: Number.NaN },
      }),
    );
    assert.ok(nan.type === 'progress' && nan.event.type === 'done' && Number.isNaN(nan.event.finalLoss));
  });

  it('accepts only plain upload names: no traversal, no hidden files, at most GROUP/FILE', () => {
    for (const ok of ['a', 'data_batch_1.bin', 'data/x.safetensors', 'A-b_c.9', 'x'.repeat(128), 'a..b']) {
      assert.ok(isUploadName(ok), ok);
    }
    for (const bad of [
      '',
      '.',
      '..',
      '../x',
      'x/..',
      'a/b/c',
      '/etc/passwd',
      '.hidden',
      'a\\b',
      'a b',
      'x'.repeat(129),
      'é',
      'a/',
      '/a',
      'a\u0000b',
      5,
      null,
    ]) {
      assert.ok(!isUploadName(bad), String(bad));
    }
    refused(
      () =>
        decodeClientMessage(
          raw(
            { type: 'upload', name: '../../etc/passwd', offset: 0, total: 1, encrypted: false, bodyBytes: 1 },
            Uint8Array.of(1),
          ),
        ),
      /upload\.name: not a valid name/,
    );
  });

  it('refuses records whose lengths do not add up', () => {
    refused(() => decodeClientMessage(new Uint8Array(3)), /shorter than its header length/);
    refused(
      () => decodeClientMessage(raw({ type: 'key' }, new Uint8Array(0), MAX_HEADER_BYTES + 1)),
      /header of \d+ bytes exceeds/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'key' }, new Uint8Array(0), 1000)),
      /declares a 1000-byte header/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'key', name: 'a', bodyBytes: 31 }, new Uint8Array(32))),
      /bodyBytes says 31 but 32 bytes follow/,
    );
    refused(
      () =>
        decodeClientMessage(
          raw({
            type: 'upload',
            name: 'a',
            offset: 0,
            total: 1,
            encrypted: false,
            bodyBytes: MAX_BODY_BYTES + 1,
          }),
        ),
      /bodyBytes \d+ exceeds/,
    );
    refused(
      () =>
        decodeClientMessage(
          raw(
            { type: 'upload', name: 'a', offset: 0, total: 1, encrypted: false, bodyBytes: 2 },
            new Uint8Array(2),
          ),
        ),
      /past the declared total 1/,
    );
  });

  it('refuses headers that are not exactly a known message of the peer’s direction', () => {
    refused(() => decodeClientMessage(raw('{"type":')), /not UTF-8 JSON/);
    refused(() => decodeClientMessage(raw(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]))), /not UTF-8 JSON/);
    refused(() => decodeClientMessage(raw('[1,2]')), /not a JSON object/);
    refused(
      () => decodeClientMessage(raw({ type: 'shell', bodyBytes: 0 })),
      /unknown message type "shell" from the client/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'result', kind: 'eval', bodyBytes: 0 })),
      /unknown message type "result" from the client/,
    );
    refused(
      () => decodeEnclaveMessage(raw({ type: 'train', bodyBytes: 0 })),
      /unknown message type "train" from the enclave/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'key', name: 'a', extra: 1, bodyBytes: 32 }, new Uint8Array(32))),
      /unknown field 'extra'/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'key', bodyBytes: 32 }, new Uint8Array(32))),
      /missing field 'name'/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'key', name: 'a', bodyBytes: 16 }, new Uint8Array(16))),
      /a key is 32 bytes/,
    );
    refused(
      () => decodeClientMessage(raw({ type: 'train', job: {}, bodyBytes: 1 }, new Uint8Array(1))),
      /carries no body/,
    );
    const job = (patch: Record<string, unknown>) =>
      raw({ type: 'train', job: { ...trainJob, ...patch }, bodyBytes: 0 });
    const settings = (patch: Record<string, unknown>) =>
      job({ settings: { ...trainJob.settings, ...patch } });
    refused(
      () => decodeClientMessage(job({ mode: 'gpu' })),
      /train\.job\.mode: expected one of enclave, split/,
    );
    refused(
      () => decodeClientMessage(job({ accelerators: ['nohost'] })),
      /accelerators\[0\]: expected HOST:PORT/,
    );
    refused(
      () => decodeClientMessage(job({ mode: 'enclave' })),
      /accelerators, acceleratorTimeoutMs, integrity, field and offloadMinIntensity are for mode split/,
    );
    refused(() => decodeClientMessage(job({ field: 'p48' })), /field: expected one of wide, p24/);
    refused(
      () => decodeClientMessage(job({ integrity: 'float', field: 'wide' })),
      /field: a field is for integrity exact/,
    );
    refused(
      () =>
        decodeClientMessage(
          job({ mode: 'enclave', accelerators: undefined, integrity: undefined, field: 'p24' }),
        ),
      /are for mode split/,
    );
    refused(
      () => decodeClientMessage(job({ offloadMinIntensity: -1 })),
      /offloadMinIntensity: expected a finite number >= 0/,
    );
    refused(
      () =>
        decodeClientMessage(
          job({ mode: 'enclave', accelerators: undefined, integrity: undefined, offloadMinIntensity: 4 }),
        ),
      /are for mode split/,
    );
    for (const bad of [0, 1.5, -1, 86_400_001, '60'])
      refused(() => decodeClientMessage(job({ acceleratorTimeoutMs: bad })), /acceleratorTimeoutMs: /);
    refused(
      () =>
        decodeClientMessage(
          job({ mode: 'enclave', accelerators: undefined, integrity: undefined, acceleratorTimeoutMs: 5000 }),
        ),
      /are for mode split/,
    );
    const timed = decodeClientMessage(job({ acceleratorTimeoutMs: 5000 }));
    assert.equal(timed.type === 'train' && timed.job.acceleratorTimeoutMs, 5000);
    refused(() => decodeClientMessage(job({ checkpoint: '../x' })), /checkpoint: not a plain name/);
    refused(
      () => decodeClientMessage(job({ data: { kind: 'path', name: '/etc' } })),
      /data\.kind: expected one of synthetic, upload/,
    );
    refused(
      () => decodeClientMessage(job({ data: { kind: 'synthetic', length: 0 } })),
      /data\.length: expected an integer/,
    );
    refused(() => decodeClientMessage(settings({ lr: 'fast' })), /settings\.lr: expected a finite number/);
    refused(() => decodeClientMessage(settings({ steps: 1.5 })), /settings\.steps: expected an integer/);
    refused(() => decodeClientMessage(settings({ epochs: 1 })), /give exactly one of epochs and steps/);
    refused(() => decodeClientMessage(settings({ model: 'resnet18; rm -rf' })), /not a model name/);
    refused(() => decodeClientMessage(job({ dropout: 1 })), /dropout: expected a probability below 1/);
  });

  it('refuses to encode what the decoder would refuse (a body on a bodiless type, an oversized body)', () => {
    assert.throws(
      () =>
        encodeSessionMessage({
          type: 'model',
          offset: 0,
          total: 0,
          body: new Uint8Array(MAX_BODY_BYTES + 1),
        }),
      RangeError,
    );
  });
});
