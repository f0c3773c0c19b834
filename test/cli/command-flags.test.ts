// The flags train, infer and eval accept, natively and in --mode split, pinned as literal lists: every
// listed flag parses (the command gets as far as its first check after parsing), every other one is
// refused as unknown. Runs in this process: each case stops at a UsageError before any side effect.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Command, UsageError } from '../../src/cli/command.js';
import { evalCommand } from '../../src/cli/commands/eval.js';
import { inferCommand } from '../../src/cli/commands/infer.js';
import { trainCommand } from '../../src/cli/commands/train.js';

const BOOLEANS = new Set(['nesterov', 'no-deterministic', 'no-augment', 'json']);

const SHARED = ['model', 'num-classes', 'input-size', 'data', 'batch-size', 'weights', 'strip-prefix'];
const RUNTIME = ['threads', 'json'];
const TRAIN = [
  ...SHARED,
  ...RUNTIME,
  'epochs',
  'steps',
  'lr',
  'momentum',
  'weight-decay',
  'nesterov',
  'schedule',
  'save',
  'checkpoint',
  'checkpoint-every',
  'resume',
  'seed',
  'dropout',
  'no-augment',
];
const INFER = [...SHARED, ...RUNTIME, 'topk', 'limit'];
const EVAL = [...SHARED, ...RUNTIME, 'split'];

interface Case {
  readonly command: Command;
  readonly mode: 'native' | 'split';
  readonly flags: readonly string[];
}

const CASES: readonly Case[] = [
  { command: trainCommand, mode: 'native', flags: [...TRAIN, 'no-deterministic'] },
  { command: trainCommand, mode: 'split', flags: TRAIN }, // --no-deterministic is native only
  { command: inferCommand, mode: 'native', flags: INFER },
  { command: inferCommand, mode: 'split', flags: INFER },
  { command: evalCommand, mode: 'native', flags: EVAL },
  { command: evalCommand, mode: 'split', flags: EVAL },
];

const EVERY_FLAG = [...new Set([...TRAIN, ...INFER, ...EVAL, 'no-deterministic'])];

function argvOf(flags: readonly string[]): string[] {
  return flags.flatMap((f) => (BOOLEANS.has(f) ? [`--${f}`] : [`--${f}`, 'x']));
}

function usage(re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, re);
    return true;
  };
}

for (const { command, mode, flags } of CASES) {
  const modeArgv = mode === 'native' ? [] : ['--mode', mode];

  test(`${command.name} --mode ${mode} parses every one of its flags`, async () => {
    // Everything but --model natively (the first check after parsing); everything, with no
    // --accelerator, in split mode (its first check after parsing).
    const given = mode === 'native' ? flags.filter((f) => f !== 'model') : flags;
    const expected =
      mode === 'native'
        ? new RegExp(`^--model is required \\(see tee-offload ${command.name} --help\\)$`)
        : /^--mode split needs --accelerator HOST:PORT$/;
    await assert.rejects(command.run([...modeArgv, ...argvOf(given)]), usage(expected));
  });

  test(`${command.name} --mode ${mode} refuses every flag that is not its own as unknown`, async () => {
    const foreign = [...EVERY_FLAG.filter((f) => !flags.includes(f)), 'bogus'];
    for (const f of foreign) {
      await assert.rejects(
        command.run([...modeArgv, '--model', 'resnet18', `--${f}`]),
        usage(new RegExp(`^Unknown option '--${f}'`)),
        f,
      );
    }
  });
}
