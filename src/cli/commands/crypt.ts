// `tee-offload encrypt|decrypt --key K IN OUT`: files ↔ chunked AES-256-GCM files (docs/encryption.md).
// Both write OUT atomically; decrypt renames its output into place only after every chunk verified,
// so a tampered, truncated or wrongly-keyed file leaves no plaintext behind (E_AUTH, exit 8).
import {
  DEFAULT_CHUNK_SIZE,
  decryptFile,
  encryptFile,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
} from '../../secure/aead-file.js';
import { keyId, readKeyFile, wipe } from '../../secure/keys.js';
import { type Command, UsageError } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';

const ENCRYPT_HELP = [
  'usage: tee-offload encrypt --key KEYFILE IN OUT [--chunk-size BYTES]',
  '',
  'Encrypts IN to OUT with AES-256-GCM in chunks (constant memory, any size): a header with the key',
  'id and random nonces, then each chunk with its tag. Truncation, reordering, splicing and any',
  'modification of OUT are detected when it is decrypted. OUT is written atomically (temp, fsync,',
  'rename). Make a key with `tee-offload keygen --out KEYFILE`.',
  '',
  'options:',
  '  --key KEYFILE      the key file (must not be readable by other users)',
  `  --chunk-size N     plaintext bytes per chunk, ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE} (default ${DEFAULT_CHUNK_SIZE})`,
  '',
  'exit status: 0 done, 2 bad command line, 5 E_IO (cannot read/write a file or the key file).',
].join('\n');

const DECRYPT_HELP = [
  'usage: tee-offload decrypt --key KEYFILE IN OUT',
  '',
  'Decrypts and verifies IN (made by `tee-offload encrypt`) to OUT. Every chunk is verified before',
  'its plaintext is written to a temporary file (mode 0600), which becomes OUT only once the whole',
  'file verified; on any failure nothing is left and an existing OUT is untouched.',
  '',
  'options:',
  '  --key KEYFILE      the key file the data was encrypted with',
  '',
  'exit status: 0 done, 2 bad command line, 3 E_FORMAT (IN is not an encrypted file),',
  '5 E_IO, 8 E_AUTH (wrong key, or IN was modified, truncated, reordered or spliced).',
].join('\n');

function warn(message: string): void {
  console.error(`tee-offload: warning: ${message}`);
}

function parse(argv: string[], extra: Record<string, { type: 'string' }>, what: string) {
  const { values, positionals } = parseFlags(argv, { key: { type: 'string' }, ...extra }, true);
  const key = values.key as string | undefined;
  if (!key) throw new UsageError(`${what} needs --key KEYFILE`);
  if (positionals.length !== 2)
    throw new UsageError(`${what} needs IN and OUT, got ${positionals.length} paths`);
  return { values, key, input: positionals[0]!, output: positionals[1]! };
}

export const encryptCommand: Command = {
  name: 'encrypt',
  summary: 'encrypt a file with a key file (chunked AES-256-GCM)',
  help: ENCRYPT_HELP,
  async run(argv) {
    const a = parse(argv, { 'chunk-size': { type: 'string' } }, 'encrypt');
    const chunkSize = intFlag(
      a.values['chunk-size'] as string | undefined,
      'chunk-size',
      DEFAULT_CHUNK_SIZE,
      MIN_CHUNK_SIZE,
    );
    if (chunkSize > MAX_CHUNK_SIZE)
      throw new UsageError(`--chunk-size must be at most ${MAX_CHUNK_SIZE}, got ${chunkSize}`);
    const key = readKeyFile(a.key, { onWarning: warn });
    try {
      const id = keyId(key);
      const r = await encryptFile(key, a.input, a.output, { chunkSize, keyId: id });
      console.log(
        `encrypted ${a.input} (${r.plaintextBytes} bytes, ${r.chunks} chunks) to ${a.output} with key ${id}`,
      );
    } finally {
      wipe(key);
    }
    return 0;
  },
};

export const decryptCommand: Command = {
  name: 'decrypt',
  summary: 'decrypt and verify a file made by encrypt',
  help: DECRYPT_HELP,
  async run(argv) {
    const a = parse(argv, {}, 'decrypt');
    const key = readKeyFile(a.key, { onWarning: warn });
    try {
      const r = await decryptFile(key, a.input, a.output, { expectedKeyId: keyId(key) });
      console.log(`decrypted and verified ${a.input} (${r.plaintextBytes} bytes) to ${a.output}`);
    } finally {
      wipe(key);
    }
    return 0;
  },
};
