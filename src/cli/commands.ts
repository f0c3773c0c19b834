// Every command of the CLI, in the order `tee-offload --help` lists them.
import type { Command } from './command.js';
import { acceleratorCommand } from './commands/accelerator.js';
import { attestCommand } from './commands/attest.js';
import { benchCommand } from './commands/bench.js';
import { decryptCommand, encryptCommand } from './commands/crypt.js';
import { dataCommand } from './commands/data.js';
import { demoCommand } from './commands/demo.js';
import { enclaveCommand } from './commands/enclave.js';
import { evalCommand } from './commands/eval.js';
import { inferCommand } from './commands/infer.js';
import { infoCommand } from './commands/info.js';
import { keygenCommand } from './commands/keygen.js';
import { manifestCommand } from './commands/manifest.js';
import { modelsCommand } from './commands/models.js';
import { precomputeCommand } from './commands/precompute.js';
import { reportCommand } from './commands/report.js';
import { trainCommand } from './commands/train.js';
import { weightsCommand } from './commands/weights.js';

export const COMMANDS: readonly Command[] = [
  demoCommand,
  trainCommand,
  inferCommand,
  evalCommand,
  modelsCommand,
  dataCommand,
  weightsCommand,
  enclaveCommand,
  acceleratorCommand,
  attestCommand,
  manifestCommand,
  keygenCommand,
  precomputeCommand,
  encryptCommand,
  decryptCommand,
  benchCommand,
  reportCommand,
  infoCommand,
];
