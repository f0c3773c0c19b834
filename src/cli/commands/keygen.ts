// `tee-offload keygen --out K`: a fresh 256-bit key from the crypto RNG in a key file with mode 0600;
// an existing file is never overwritten unless --force (a lost key is lost data).
import { generateKey, keyId, wipe, writeKeyFile } from '../../secure/keys.js';
import { type Command, UsageError } from '../command.js';
import { parseFlags } from '../parse.js';

const HELP = [
  'usage: tee-offload keygen --out FILE [--force]',
  '',
  'Writes a new random AES-256 key (32 bytes from the crypto RNG) to FILE with mode 0600, and prints',
  'its key id (a public fingerprint, also written in the header of files encrypted with it). Use the',
  'key with `tee-offload encrypt|decrypt --key FILE`. Anyone who can read FILE can decrypt your files:',
  'keep it secret and backed up; a lost key cannot be recovered.',
  '',
  'options:',
  '  --out FILE   where to write the key (refused if it exists)',
  '  --force      replace an existing FILE (its old key is gone for good)',
].join('\n');

export const keygenCommand: Command = {
  name: 'keygen',
  summary: 'create a random AES-256 key file (mode 0600) for encrypt/decrypt',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      { out: { type: 'string' }, force: { type: 'boolean' } },
      true,
    );
    if (positionals.length > 0) throw new UsageError(`keygen takes no arguments, got '${positionals[0]}'`);
    const out = values.out as string | undefined;
    if (!out) throw new UsageError('keygen needs --out FILE');
    const key = generateKey();
    try {
      writeKeyFile(out, key, { force: values.force === true });
      console.log(`wrote key ${keyId(key)} to ${out} (mode 0600)`);
    } finally {
      wipe(key);
    }
    return 0;
  },
};
