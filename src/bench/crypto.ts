// `tee-offload bench crypto` (wired by the CLI): AES-256-GCM throughput of the encrypted-file format
// on the prototype's file size (184,442,413 random bytes) in memory and file to file, per chunk size
// and against one plain node:crypto call, plus the attested handshake's latency and the secure
// channel's throughput on loopback. Every workload is checked for a correct round trip before timing.
import { createCipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_CHUNK_SIZE,
  decryptBuffer,
  decryptFile,
  encryptBuffer,
  encryptedSize,
  encryptFile,
} from '../secure/aead-file.js';
import type { SecureChannel } from '../secure/channel.js';
import { connectSecure, serverHandshake } from '../secure/handshake.js';
import { simulatedAttestation } from '../secure/handshake-attestation.js';
import { generateKey, wipe } from '../secure/keys.js';
import { median, sig } from './stats.js';

/** The prototype's encrypted dataset file size. */
export const PROTOTYPE_FILE_BYTES = 184_442_413;

export interface CryptoBenchOptions {
  /** Payload size (default the prototype's 184,442,413 bytes). */
  readonly bytes?: number;
  /** Timed samples per workload; medians reported (default 5). */
  readonly repeats?: number;
  /** Chunk sizes for the in-memory runs (default 64 KiB, 256 KiB, 1 MiB, 4 MiB). */
  readonly chunkSizes?: readonly number[];
  /** Handshakes timed on loopback (default 200, after 20 warm-up). */
  readonly handshakes?: number;
  /** Where the file-to-file runs write (default the OS temp directory). */
  readonly dir?: string;
  /** Progress lines (default: none). */
  readonly progress?: (line: string) => void;
}

export interface ThroughputRow {
  readonly workload: string;
  readonly chunkSize: number | null;
  readonly bytes: number;
  readonly medianSeconds: number;
  /** 10⁹ bytes of plaintext per second of wall time, from the median. */
  readonly gbPerSecond: number;
  /** CPU time of the whole process (all threads) per run, median: on a shared machine, the fair figure. */
  readonly medianCpuSeconds: number;
  /** 10⁹ bytes of plaintext per CPU-second: throughput per core, whatever else was running. */
  readonly gbPerCpuSecond: number;
  readonly samplesSeconds: readonly number[];
}

export interface LatencyStats {
  readonly count: number;
  readonly medianMs: number;
  readonly p10Ms: number;
  readonly p90Ms: number;
  readonly minMs: number;
}

export interface CryptoBenchReport {
  readonly suite: 'crypto';
  readonly date: string;
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly memoryGiB: number;
    readonly node: string;
    readonly openssl: string;
    readonly aesni: boolean | null;
    /** Load averages when the run started: above `cores` means other work shared the CPU. */
    readonly loadAverage: readonly number[];
  };
  readonly settings: { readonly bytes: number; readonly repeats: number; readonly handshakes: number };
  readonly throughput: readonly ThroughputRow[];
  /** Connect → channel ready (X25519, SIMULATED evidence, HKDF, Finished both ways), loopback. */
  readonly handshake: LatencyStats;
  /** One 1 KiB message there and back over an open channel. */
  readonly roundTrip1KiB: LatencyStats;
  /** Channel throughput, 1 MiB messages, one direction, loopback. */
  readonly channel: ThroughputRow;
}

function cpuHasAesNi(): boolean | null {
  try {
    return /\baes\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return null;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench crypto: ${what} did not round-trip (a bug: nothing was timed)`);
}

interface Samples {
  readonly wall: number[];
  readonly cpu: number[];
}

/** Wall time and process CPU time (user + system, all threads) of each of `repeats` runs after a warm-up. */
async function timeIt(repeats: number, f: () => unknown): Promise<Samples> {
  await f(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    await f();
    wall.push(Number(process.hrtime.bigint() - t) / 1e9);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1e6);
  }
  return { wall, cpu };
}

function row(workload: string, chunkSize: number | null, bytes: number, s: Samples): ThroughputRow {
  const m = median(s.wall);
  const c = median(s.cpu);
  return {
    workload,
    chunkSize,
    bytes,
    medianSeconds: sig(m),
    gbPerSecond: sig(bytes / m / 1e9),
    medianCpuSeconds: sig(c),
    gbPerCpuSecond: sig(bytes / c / 1e9),
    samplesSeconds: s.wall.map((x) => sig(x)),
  };
}

function latency(samplesMs: number[]): LatencyStats {
  const s = [...samplesMs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return {
    count: s.length,
    medianMs: sig(median(s)),
    p10Ms: sig(q(0.1)),
    p90Ms: sig(q(0.9)),
    minMs: sig(s[0]!),
  };
}

/** One AES-256-GCM call over the whole buffer: what node:crypto itself reaches (the ceiling). */
function rawGcm(key: Uint8Array, data: Uint8Array): void {
  const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
  c.update(data);
  c.final();
  c.getAuthTag();
}

async function loopback(): Promise<{
  port: number;
  accepted: () => Promise<SecureChannel>;
  close: () => void;
}> {
  const waiting: ((c: Promise<SecureChannel>) => void)[] = [];
  const ready: Promise<SecureChannel>[] = [];
  const server = createServer((socket) => {
    const p = serverHandshake(socket, { attestation: simulatedAttestation() });
    p.catch(() => {});
    const w = waiting.shift();
    if (w) w(p);
    else ready.push(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    accepted: () =>
      ready.shift() ?? new Promise<Promise<SecureChannel>>((r) => waiting.push(r)).then((p) => p),
    close: () => server.close(),
  };
}

async function benchChannel(
  handshakes: number,
  log: (s: string) => void,
): Promise<Pick<CryptoBenchReport, 'handshake' | 'roundTrip1KiB' | 'channel'>> {
  const lb = await loopback();
  try {
    const connect = () => connectSecure({ host: '127.0.0.1', port: lb.port, allowSimulated: true });
    // Correctness first: one message each way.
    {
      const c = await connect();
      const s = await lb.accepted();
      const m = new Uint8Array(randomBytes(1000));
      await c.send(m);
      check(equal((await s.receive())!, m), 'a channel message');
      c.destroy();
      s.destroy();
    }
    log(`handshake: ${handshakes} on 127.0.0.1`);
    const times: number[] = [];
    for (let i = 0; i < handshakes + 20; i++) {
      const t = process.hrtime.bigint();
      const c = await connect();
      const dt = Number(process.hrtime.bigint() - t) / 1e6;
      if (i >= 20) times.push(dt);
      c.destroy();
      (await lb.accepted()).destroy();
    }
    const c = await connect();
    const s = await lb.accepted();
    const echo = (async () => {
      for (;;) {
        const m = await s.receive().catch(() => null);
        if (m === null || m.length !== 1024) return;
        await s.send(m);
      }
    })();
    const rtt: number[] = [];
    const ping = new Uint8Array(1024);
    for (let i = 0; i < 1000 + 100; i++) {
      const t = process.hrtime.bigint();
      await c.send(ping);
      await c.receive();
      if (i >= 100) rtt.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    await c.send(new Uint8Array(1)); // ends the echo loop
    await echo;
    log('channel: 256 MiB in 1 MiB messages');
    const mib = new Uint8Array(randomBytes(1024 * 1024));
    const n = 256;
    const once = async () => {
      const recv = (async () => {
        for (let i = 0; i < n; i++) await s.receive();
      })();
      for (let i = 0; i < n; i++) await c.send(mib);
      await recv;
    };
    const samples = await timeIt(3, once);
    c.destroy();
    s.destroy();
    return {
      handshake: latency(times),
      roundTrip1KiB: latency(rtt),
      channel: row('SecureChannel send→receive, loopback', 1024 * 1024, n * mib.length, samples),
    };
  } finally {
    lb.close();
  }
}

export async function runCryptoBench(options: CryptoBenchOptions = {}): Promise<CryptoBenchReport> {
  const bytes = options.bytes ?? PROTOTYPE_FILE_BYTES;
  const repeats = options.repeats ?? 5;
  const chunkSizes = options.chunkSizes ?? [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
  const handshakes = options.handshakes ?? 200;
  const log = options.progress ?? (() => {});
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    aesni: cpuHasAesNi(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const key = generateKey();
  const data = randomFillSync(new Uint8Array(bytes));
  const rows: ThroughputRow[] = [];
  const dir = mkdtempSync(join(options.dir ?? tmpdir(), 'tee-offload-bench-crypto-'));
  try {
    log(`node:crypto AES-256-GCM, one call over ${bytes} bytes`);
    rows.push(
      row(
        'node:crypto AES-256-GCM, one call, new array',
        null,
        bytes,
        await timeIt(repeats, () => rawGcm(key, data)),
      ),
    );

    // Into reused arrays: the cipher work alone, without page-faulting 184 MB of fresh memory per run.
    const plainOut = new Uint8Array(bytes);
    for (const cs of chunkSizes) {
      log(`encryptBuffer/decryptBuffer into reused arrays, chunk ${cs}`);
      const encOut = new Uint8Array(encryptedSize(bytes, { chunkSize: cs }));
      encryptBuffer(key, data, { chunkSize: cs, output: encOut });
      const back = decryptBuffer(key, encOut, 'bench', { output: plainOut });
      check(equal(back, data), `encryptBuffer/decryptBuffer (chunk ${cs})`);
      const encrypt = () => encryptBuffer(key, data, { chunkSize: cs, output: encOut });
      const decrypt = () => decryptBuffer(key, encOut, 'bench', { output: plainOut });
      rows.push(row('encryptBuffer, into a reused array', cs, bytes, await timeIt(repeats, encrypt)));
      rows.push(row('decryptBuffer, into a reused array', cs, bytes, await timeIt(repeats, decrypt)));
    }
    log(`encryptBuffer/decryptBuffer returning new arrays, chunk ${DEFAULT_CHUNK_SIZE}`);
    const enc = encryptBuffer(key, data);
    check(equal(decryptBuffer(key, enc), data), 'encryptBuffer/decryptBuffer');
    rows.push(
      row(
        'encryptBuffer, new array',
        DEFAULT_CHUNK_SIZE,
        bytes,
        await timeIt(repeats, () => encryptBuffer(key, data)),
      ),
    );
    rows.push(
      row(
        'decryptBuffer, new array',
        DEFAULT_CHUNK_SIZE,
        bytes,
        await timeIt(repeats, () => decryptBuffer(key, enc)),
      ),
    );

    const plain = join(dir, 'plain.bin');
    const encPath = join(dir, 'data.enc');
    const decPath = join(dir, 'data.dec');
    writeFileSync(plain, data);
    log(`encryptFile/decryptFile, chunk ${DEFAULT_CHUNK_SIZE}, in ${dir} (page cache warm)`);
    await encryptFile(key, plain, encPath);
    await decryptFile(key, encPath, decPath);
    check(equal(new Uint8Array(readFileSync(decPath)), data), 'encryptFile/decryptFile');
    rows.push(
      row(
        'encryptFile (file to file)',
        DEFAULT_CHUNK_SIZE,
        bytes,
        await timeIt(repeats, () => encryptFile(key, plain, encPath)),
      ),
    );
    rows.push(
      row(
        'decryptFile (file to file)',
        DEFAULT_CHUNK_SIZE,
        bytes,
        await timeIt(repeats, () => decryptFile(key, encPath, decPath)),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    wipe(key);
  }
  const net = await benchChannel(handshakes, log);
  return {
    suite: 'crypto',
    date: new Date().toISOString(),
    machine,
    settings: { bytes, repeats, handshakes },
    throughput: rows,
    ...net,
  };
}

/** The report as a text table (the JSON is the result; this is for the terminal). */
export function cryptoBenchTable(r: CryptoBenchReport): string {
  const kib = (n: number | null) =>
    n === null ? '—' : n >= 1024 * 1024 ? `${n / 1024 / 1024} MiB` : `${n / 1024} KiB`;
  const lines = [
    `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, OpenSSL ${r.machine.openssl}, AES-NI ${r.machine.aesni ? 'yes' : 'no'}, load ${r.machine.loadAverage.join(' ')}`,
    `AES-256-GCM on ${r.settings.bytes} bytes, median of ${r.settings.repeats} (one core):`,
    '  workload                                      chunk   GB/s wall  GB/s per CPU-s   seconds',
    ...[...r.throughput, r.channel].map(
      (t) =>
        `  ${t.workload.padEnd(44)}  ${kib(t.chunkSize).padStart(7)}  ${t.gbPerSecond.toFixed(2).padStart(9)}  ${t.gbPerCpuSecond.toFixed(2).padStart(14)}  ${t.medianSeconds.toFixed(3).padStart(8)}`,
    ),
    `handshake on loopback (SIMULATED evidence), ${r.handshake.count} runs: median ${r.handshake.medianMs} ms, p10 ${r.handshake.p10Ms} ms, p90 ${r.handshake.p90Ms} ms`,
    `1 KiB round trip over the channel: median ${r.roundTrip1KiB.medianMs} ms, p90 ${r.roundTrip1KiB.p90Ms} ms`,
  ];
  return lines.join('\n');
}
