// A real trusted process for the tests: `tee-offload enclave` run by its command object in a child
// process (node dist/test/client/enclave-child.js ARGS), so that the tests do not depend on where the
// command is registered. Errors end it the way main.ts does: one line and the code's exit status.

import { enclaveCommand } from '../../src/cli/commands/enclave.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isTeeError } from '../../src/errors.js';

enclaveCommand.run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`tee-offload: ${isTeeError(e) ? `${e.code}: ${e.message}` : String(e)}`);
    process.exitCode = isTeeError(e) ? (EXIT_CODES[e.code] ?? 1) : 1;
  },
);
