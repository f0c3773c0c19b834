// `bench crypto` and `bench protocol`: the AES-GCM and wire-protocol benchmarks (crypto.ts,
// protocol-throughput.ts) run from the CLI, their table on stdout and their JSON in the output folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TeeError } from '../errors.js';
import { cryptoBenchTable, runCryptoBench } from './crypto.js';
import { protocolBenchTable, runProtocolBench } from './protocol-throughput.js';

export interface SideSuiteOptions {
  readonly repeats?: number;
  readonly threads?: number;
  readonly outDir: string;
  readonly log: (line: string) => void;
  readonly print: (text: string) => void;
}

/** Writes report as DIR/NAME-<UTC time>.json (E_IO when it cannot) and returns the file's path. */
export function writeJson(dir: string, name: string, report: unknown): string {
  const file = join(
    dir,
    `${name}-${new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z')}.json`,
  );
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  } catch (e) {
    throw new TeeError('E_IO', `cannot write ${file}: ${(e as Error).message}`, { cause: e });
  }
  return file;
}

export async function runCryptoSuite(o: SideSuiteOptions): Promise<string> {
  const report = await runCryptoBench({ ...(o.repeats ? { repeats: o.repeats } : {}), progress: o.log });
  o.print(cryptoBenchTable(report));
  const file = writeJson(o.outDir, 'bench-crypto', report);
  o.print(`wrote ${file}`);
  return file;
}

export async function runProtocolSuite(o: SideSuiteOptions): Promise<string> {
  const report = await runProtocolBench({
    ...(o.repeats ? { reps: o.repeats } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
  });
  o.print(protocolBenchTable(report));
  const file = writeJson(o.outDir, 'bench-protocol', report);
  o.print(`wrote ${file}`);
  return file;
}
