#!/usr/bin/env node
// The `tee-offload` command: the only place that reads argv and exits. Each command lives in
// commands/; a TeeError becomes one clear line and the exit status of its code, never a stack trace.
import { createRequire } from 'node:module';
import { isTeeError } from '../errors.js';
import type { Command } from './command.js';
import { COMMANDS } from './commands.js';
import { EXIT_CODES } from './exit-codes.js';

function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: tee-offload <command> [options]',
    '',
    'Confidential, verifiable deep-learning training and inference.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `tee-offload <command> --help` for the options of a command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic ? COMMANDS.find((c) => c.name === topic) : undefined;
    console.log(cmd ? cmd.help : usage(COMMANDS));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`tee-offload: unknown command '${name}' (see tee-offload --help)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isTeeError(err)) {
      console.error(`tee-offload: ${err.code}: ${err.message}`);
      process.exitCode = EXIT_CODES[err.code] ?? 1;
    } else if (err instanceof TypeError || err instanceof RangeError) {
      // Bad arguments at a public entry: one line, usage status.
      console.error(`tee-offload: ${err.message}`);
      process.exitCode = 2;
    } else {
      console.error('tee-offload: unexpected failure (a bug; please report it with this trace):');
      console.error(err);
      process.exitCode = 1;
    }
  },
);
