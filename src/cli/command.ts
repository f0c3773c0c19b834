// A CLI command: its name, a one-line summary for `tee-offload --help`, full help text, and run().
// Commands parse their own flags with node:util parseArgs; they throw TeeError for runtime failures
// and UsageError for bad command lines; only main.ts turns those into exit statuses.
import { TeeError } from '../errors.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

export class UsageError extends TeeError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}
