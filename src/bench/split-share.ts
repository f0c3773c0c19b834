// Stand-alone form of `tee-offload bench split-share` (split-share-run.ts), kept for the commands the docs
// record: models as positionals, the same flags; no JSON unless --out is given.
// Run: node dist/src/bench/split-share.js [model ...] [--batch B] [--size S] [--integrity exact|float|off]
//        [--field wide|p24] [--threads T] [--steps S] [--offload-min-intensity X] [--max-inner K]
//        [--no-cache-gradients] [--accelerator-backend cpu|cuda|emulated] [--accelerator-threads T]
//        [--no-ifma] [--out DIR]
import { flagReader } from './script-flags.js';
import {
  SPLIT_SHARE_BOOLEAN_FLAGS,
  SPLIT_SHARE_HELP,
  SPLIT_SHARE_VALUE_FLAGS,
  type SplitShareValues,
  splitShareOptions,
} from './split-share-options.js';
import { runSplitShare } from './split-share-run.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${SPLIT_SHARE_HELP}\n`);
    return;
  }
  const take = flagReader(args);
  const flag = (name: string) => (args.includes(`--${name}`) ? take(name, '') : undefined);
  const bool = (name: string) => {
    const i = args.indexOf(`--${name}`);
    if (i >= 0) args.splice(i, 1);
    return i >= 0 ? true : undefined;
  };
  const values: Record<string, string | boolean | undefined> = {};
  for (const name of SPLIT_SHARE_VALUE_FLAGS) values[name] = flag(name);
  for (const name of SPLIT_SHARE_BOOLEAN_FLAGS) values[name] = bool(name);
  const unknown = args.find((a) => a.startsWith('--'));
  if (unknown !== undefined) throw new Error(`unknown flag ${unknown} (--help lists them)`);
  if (args.length > 0) values.models = args.join(',');
  const { outDir, ...o } = splitShareOptions(values as SplitShareValues);
  await runSplitShare({
    ...o,
    ...(values.out === undefined || outDir === undefined ? {} : { outDir }),
    log: (line) => process.stderr.write(`${line}\n`),
    print: (text) => process.stdout.write(`${text}\n`),
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
