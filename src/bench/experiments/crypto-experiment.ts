// `bench crypto` experiment: AES-256-GCM (the encrypted-file format, chunked, docs/encryption.md) over the
// prototype's 184,442,413-byte file, file to file, in the client process (encryptFile, decryptFile) and in
// the trusted process: an encrypted upload is decrypted there when its key arrives, so the time from
// sending the key to the `uploaded` answer is the trusted side's decrypt (plus one loopback round trip).
// The upload's own transfer is excluded: a small plain upload after it is acknowledged first, and
// messages are handled in order. The trusted process encrypts only when it seals a checkpoint, which the
// session does not time: that record carries an error saying so.
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientVerifier } from '../../client/attestation.js';
import { SessionClient } from '../../client/session-client.js';
import { TeeError } from '../../errors.js';
import { parseAddress } from '../../protocol/address.js';
import { MAX_BODY_BYTES, MAX_SESSION_MESSAGE_BYTES } from '../../protocol/session-messages.js';
import { decryptFile, encryptFile } from '../../secure/aead-file.js';
import { connectSecure } from '../../secure/handshake.js';
import { generateKey, wipe } from '../../secure/keys.js';
import { PROTOTYPE_FILE_BYTES } from '../crypto.js';
import { median, sig } from '../stats.js';
import { type ExperimentContext, errorText } from './options.js';
import type { CryptoRecord } from './schema.js';

function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    const block = new Uint8Array(Math.min(bytes, 16 * 2 ** 20));
    for (let at = 0; at < bytes; at += block.length) {
      const n = Math.min(block.length, bytes - at);
      randomFillSync(block, 0, n);
      writeFileSync(fd, block.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

async function expect(client: SessionClient, type: string, name: string): Promise<void> {
  for (;;) {
    const m = await client.next();
    if (m.type === type && (m as { name?: string }).name === name) return;
    if (m.type === 'note' || m.type === 'queued' || m.type === 'ready') continue;
    throw new TeeError('E_FRAME', `unexpected '${m.type}' message while waiting for ${type} ${name}`);
  }
}

/** Uploads `encPath` to a fresh session, then times its decryption inside (ms). */
async function trustedDecryptMs(address: string, encPath: string, key: Uint8Array): Promise<number> {
  const hp = parseAddress(address);
  const channel = await connectSecure({
    host: hp.host,
    port: hp.port,
    maxRecordBytes: MAX_SESSION_MESSAGE_BYTES,
    allowSimulated: true,
    verifier: clientVerifier({ allowSimulated: true }),
  });
  const client = new SessionClient(channel);
  try {
    for (;;) {
      const m = await client.next();
      if (m.type === 'ready') break;
      if (m.type !== 'queued') throw new TeeError('E_FRAME', `unexpected '${m.type}' before the session`);
    }
    const total = statSync(encPath).size;
    const fd = openSync(encPath, 'r');
    try {
      const buf = new Uint8Array(Math.min(MAX_BODY_BYTES, Math.max(total, 1)));
      let offset = 0;
      do {
        const n = readSync(fd, buf, 0, Math.min(buf.length, total - offset), offset);
        if (n === 0) throw new TeeError('E_IO', `${encPath} ended early`);
        await client.send({
          type: 'upload',
          name: 'bench.enc',
          offset,
          total,
          encrypted: true,
          body: buf.subarray(0, n),
        });
        offset += n;
      } while (offset < total);
    } finally {
      closeSync(fd);
    }
    // A plain upload behind it: its acknowledgement means every chunk before it was written.
    await client.send({
      type: 'upload',
      name: 'sync',
      offset: 0,
      total: 1,
      encrypted: false,
      body: new Uint8Array(1),
    });
    await expect(client, 'uploaded', 'sync');
    const t0 = performance.now();
    await client.send({ type: 'key', name: 'bench.enc', body: key });
    await expect(client, 'uploaded', 'bench.enc');
    return performance.now() - t0;
  } finally {
    client.channel.destroy();
  }
}

async function timed(ctx: ExperimentContext, what: string, f: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < ctx.warmup; i++) await f();
  const out: number[] = [];
  for (let i = 0; i < ctx.repeats; i++) {
    out.push(await f());
    ctx.log(`${what}: sample ${i + 1}/${ctx.repeats} ${out.at(-1)!.toFixed(0)} ms`);
  }
  return out;
}

export async function runCryptoExperiment(ctx: ExperimentContext) {
  const bytes = ctx.options.bytes ?? PROTOTYPE_FILE_BYTES;
  const dir = mkdtempSync(join(tmpdir(), 'tee-offload-exp-crypto-'));
  const key = generateKey();
  const records: CryptoRecord[] = [];
  const record = (
    where: 'client' | 'trusted',
    op: 'encrypt' | 'decrypt',
    samples: number[],
  ): CryptoRecord => {
    const m = median(samples);
    return { where, op, bytes, medianMs: sig(m), gbPerSec: sig(bytes / (m / 1000) / 1e9) };
  };
  try {
    const plain = join(dir, 'plain.bin');
    const enc = join(dir, 'plain.bin.enc');
    const dec = join(dir, 'plain.bin.dec');
    ctx.log(`writing ${bytes} random bytes`);
    writeRandomFile(plain, bytes);
    const time = async (f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    let encrypted = false;
    try {
      const s = await timed(ctx, 'client encrypt', () => time(() => encryptFile(key, plain, enc)));
      encrypted = true;
      records.push(record('client', 'encrypt', s));
    } catch (e) {
      ctx.log(`client encrypt failed: ${errorText(e)}`);
      records.push({ where: 'client', op: 'encrypt', bytes, error: errorText(e) });
    }
    const needEnc = encrypted ? null : 'the client-side encryption failed: nothing to decrypt';
    if (needEnc) records.push({ where: 'client', op: 'decrypt', bytes, error: needEnc });
    else {
      try {
        const s = await timed(ctx, 'client decrypt', () => time(() => decryptFile(key, enc, dec)));
        records.push(record('client', 'decrypt', s));
      } catch (e) {
        ctx.log(`client decrypt failed: ${errorText(e)}`);
        records.push({ where: 'client', op: 'decrypt', bytes, error: errorText(e) });
      }
      rmSync(dec, { force: true });
    }
    records.push({
      where: 'trusted',
      op: 'encrypt',
      bytes,
      error:
        'not measured: the trusted process encrypts only when it seals a checkpoint, and the session reports no timing of it',
    });
    if (needEnc) records.push({ where: 'trusted', op: 'decrypt', bytes, error: needEnc });
    else {
      try {
        const address = await ctx.servers.trustedProcess();
        const s = await timed(ctx, 'trusted decrypt', () => trustedDecryptMs(address, enc, key));
        records.push(record('trusted', 'decrypt', s));
      } catch (e) {
        ctx.log(`trusted decrypt failed: ${errorText(e)}`);
        records.push({ where: 'trusted', op: 'decrypt', bytes, error: errorText(e) });
      }
    }
  } finally {
    wipe(key);
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    settings: { bytes, format: 'chunked AES-256-GCM file (default chunk size), file to file' },
    records,
  };
}
