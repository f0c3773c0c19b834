// Small wrappers over node:util parseArgs that turn its errors and bad numbers into UsageError.
import { parseArgs } from 'node:util';
import { UsageError } from './command.js';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

export interface ParsedFlags {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

export function parseFlags(argv: string[], options: Options, allowPositionals = false): ParsedFlags {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return { values: r.values as ParsedFlags['values'], positionals: r.positionals };
  } catch (e) {
    // With positionals allowed, node:util appends advice about `--` to an unknown option: one line is enough.
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** Throws `--K is required (see tee-offload COMMAND --help)` for the first of keys that values lacks. */
export function requireFlags(values: ParsedFlags['values'], keys: readonly string[], command: string): void {
  for (const k of keys) {
    if (values[k] === undefined)
      throw new UsageError(`--${k} is required (see tee-offload ${command} --help)`);
  }
}

export function intFlag(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function floatFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  return n;
}
