// A session's private directory in the trusted process: uploads arrive here chunk by chunk, encrypted
// uploads are decrypted here once their key arrives (only verified plaintext is ever written), and the
// jobs keep their working files (plaintext checkpoints before sealing, the final state) in `work/`.
// Under Gramine the parent is /tmp, an in-enclave tmpfs (manifest-template.ts), so none of it reaches the
// host's disk. Created 0700, removed with everything in it when the session ends. Names come from
// session-messages.ts (plain tokens, or GROUP/FILE), so a path can only ever land inside this directory.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TeeError } from '../errors.js';
import { isUploadName } from '../protocol/session-messages.js';
import { decryptFile } from '../secure/aead-file.js';
import { wipe } from '../secure/keys.js';

export interface SessionStoreOptions {
  /** Where the private directory is made (default: os.tmpdir(), /tmp: tmpfs under Gramine). */
  readonly parent?: string;
  /** Largest single upload (bytes as sent). */
  readonly maxUploadBytes: number;
  /** Largest sum of all uploads of a session. */
  readonly maxSessionBytes: number;
}

interface Upload {
  readonly name: string;
  readonly total: number;
  readonly encrypted: boolean;
  /** Where the bytes as sent go: the final path for plain uploads, enc/ for encrypted ones. */
  readonly receivePath: string;
  received: number;
  fd: number | null;
  /** Plain and complete, or decrypted: usable by a job. */
  ready: boolean;
}

export class SessionStore {
  readonly dir: string;
  private readonly uploadsDir: string;
  private readonly encDir: string;
  readonly workDir: string;
  private readonly uploads = new Map<string, Upload>();
  private readonly groups = new Set<string>();
  private sessionBytes = 0;
  private counter = 0;
  private disposed = false;

  constructor(private readonly opts: SessionStoreOptions) {
    this.dir = mkdtempSync(join(opts.parent ?? tmpdir(), 'tee-offload-session-'));
    this.uploadsDir = join(this.dir, 'uploads');
    this.encDir = join(this.dir, 'enc');
    this.workDir = join(this.dir, 'work');
    for (const d of [this.uploadsDir, this.encDir, this.workDir]) mkdirSync(d, { mode: 0o700 });
  }

  /**
   * Takes one chunk of an upload. Returns the upload's size once its last chunk arrived (for an
   * encrypted upload: once its encrypted bytes are complete; it is usable after key()), else null.
   */
  receive(name: string, offset: number, total: number, encrypted: boolean, body: Uint8Array): number | null {
    this.checkName(name);
    let u = this.uploads.get(name);
    if (offset === 0 && u === undefined) {
      if (total > this.opts.maxUploadBytes) {
        throw new TeeError(
          'E_FRAME',
          `upload ${name}: ${total} bytes exceeds the limit of ${this.opts.maxUploadBytes}`,
        );
      }
      if (this.sessionBytes + total > this.opts.maxSessionBytes) {
        throw new TeeError(
          'E_FRAME',
          `upload ${name}: the session's uploads would exceed ${this.opts.maxSessionBytes} bytes`,
        );
      }
      const slash = name.indexOf('/');
      if (slash >= 0) {
        const group = name.slice(0, slash);
        if (this.uploads.has(group)) throw new TeeError('E_FRAME', `upload ${name}: ${group} is a file`);
        if (!this.groups.has(group)) {
          mkdirSync(join(this.uploadsDir, group), { mode: 0o700 });
          this.groups.add(group);
        }
      } else if (this.groups.has(name)) {
        throw new TeeError('E_FRAME', `upload ${name}: a group of that name exists`);
      }
      const receivePath = encrypted ? join(this.encDir, String(this.counter++)) : this.pathOf(name);
      u = { name, total, encrypted, receivePath, received: 0, fd: null, ready: false };
      u.fd = openSync(receivePath, 'wx', 0o600);
      this.uploads.set(name, u);
      this.sessionBytes += total;
    } else if (u === undefined) {
      throw new TeeError('E_FRAME', `upload ${name}: the first chunk must start at offset 0`);
    } else if (u.fd === null) {
      throw new TeeError('E_FRAME', `upload ${name}: already complete (names are used once per session)`);
    }
    if (u.total !== total || u.encrypted !== encrypted) {
      throw new TeeError('E_FRAME', `upload ${name}: total or encrypted changed between chunks`);
    }
    if (offset !== u.received) {
      throw new TeeError('E_FRAME', `upload ${name}: chunk at offset ${offset}, expected ${u.received}`);
    }
    if (offset + body.byteLength > total) {
      throw new TeeError('E_FRAME', `upload ${name}: chunk runs past the declared ${total} bytes`);
    }
    let at = 0;
    while (at < body.byteLength) at += writeSync(u.fd!, body, at, body.byteLength - at);
    u.received += body.byteLength;
    if (u.received < total) return null;
    closeSync(u.fd!);
    u.fd = null;
    u.ready = !encrypted;
    return total;
  }

  /**
   * The key of an encrypted upload: decrypts it (every chunk verified before its plaintext is written;
   * nothing is left on failure, E_AUTH) into the name's place. The key is wiped. Returns the plaintext size.
   */
  async key(name: string, key: Uint8Array): Promise<number> {
    try {
      this.checkName(name);
      const u = this.uploads.get(name);
      if (u === undefined || !u.encrypted)
        throw new TeeError('E_FRAME', `key for ${name}: no encrypted upload of that name`);
      if (u.fd !== null) throw new TeeError('E_FRAME', `key for ${name}: the upload is not complete`);
      if (u.ready) throw new TeeError('E_FRAME', `key for ${name}: already decrypted`);
      const r = await decryptFile(key, u.receivePath, this.pathOf(name), { label: `upload ${name}` });
      unlinkSync(u.receivePath);
      u.ready = true;
      return r.plaintextBytes;
    } finally {
      wipe(key);
    }
  }

  /** The path of a complete (decrypted) upload or group, for a job; E_USAGE when there is none. */
  resolve(name: string, what: string): string {
    this.checkName(name);
    if (this.groups.has(name)) {
      const pending = [...this.uploads.values()].filter((u) => u.name.startsWith(`${name}/`) && !u.ready);
      if (pending.length > 0) {
        throw new TeeError(
          'E_USAGE',
          `${what} ${name}: ${pending[0]!.name} is not complete or not decrypted`,
        );
      }
      return join(this.uploadsDir, name);
    }
    const u = this.uploads.get(name);
    if (u === undefined) throw new TeeError('E_USAGE', `${what} ${name} was not uploaded in this session`);
    if (!u.ready) {
      throw new TeeError(
        'E_USAGE',
        `${what} ${name} is ${u.fd !== null ? 'not complete' : 'encrypted and its key was not sent'}`,
      );
    }
    return this.pathOf(name);
  }

  /** A fresh path in the private work directory. */
  workPath(label: string): string {
    return join(this.workDir, `${this.counter++}-${label}`);
  }

  /** Removes the directory and everything in it (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const u of this.uploads.values()) {
      if (u.fd !== null) {
        try {
          closeSync(u.fd);
        } catch {
          // already closed
        }
        u.fd = null;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private pathOf(name: string): string {
    // isUploadName admits only tokens and GROUP/FILE: join() cannot leave uploadsDir.
    return join(this.uploadsDir, ...name.split('/'));
  }

  private checkName(name: string): void {
    if (this.disposed) throw new TeeError('E_IO', 'the session store was removed');
    if (!isUploadName(name))
      throw new TeeError('E_FRAME', `${JSON.stringify(name)} is not a valid upload name`);
  }
}
