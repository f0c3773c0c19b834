// `tee-offload precompute`: one-time pads and unblinding factors for blinded split-mode inference
// (docs/integrity.md "Privacy"), one pad set per conv/linear layer, stored encrypted under a key file.
import { encodePadFile, makePadSets, recordForwardProducts, writePadFile } from '../../enclave/pad-file.js';
import { readKeyFile, wipe } from '../../secure/keys.js';
import { type Command, UsageError } from '../command.js';
import { modelWithWeights } from '../model-setup.js';
import { intFlag, parseFlags, requireFlags } from '../parse.js';

const HELP = `usage: tee-offload precompute --model M --weights W --input-size S --count N --key K --out PADS [options]

Makes N one-time pads R and unblinding factors U = R·W for every conv/linear layer of the model at
input size S (batch size B), bound to the quantized weights of W, and writes them to PADS encrypted
with chunked AES-256-GCM under the key file K (tee-offload keygen). Each pad blinds one forward
product of one batch and is used once: \`infer --mode split --privacy blind --pads PADS --pads-key K\`
refuses a pad file it has already used, a tampered one (E_AUTH) and one made for other weights (E_STATE).
Run it inside the trusted side (the pads are secrets: anyone holding R can unblind what the
accelerator sees).

options:
  --model M          model name (tee-offload models)
  --weights W        .safetensors or PyTorch .pth
  --input-size S     image size the pads are for
  --count N          pads per layer: N batches of inference
  --key K            key file (tee-offload keygen)
  --out PADS         pad file to write (atomically)
  --batch-size B     (default 1)
  --num-classes K    (default 10)
  --strip-prefix P   drop P from every key of --weights`;

export const precomputeCommand: Command = {
  name: 'precompute',
  summary: 'one-time pads for blinded split-mode inference (encrypted pad file)',
  help: HELP,
  async run(argv) {
    const { values: v, positionals } = parseFlags(
      argv,
      {
        model: { type: 'string' },
        weights: { type: 'string' },
        'input-size': { type: 'string' },
        count: { type: 'string' },
        key: { type: 'string' },
        out: { type: 'string' },
        'batch-size': { type: 'string' },
        'num-classes': { type: 'string' },
        'strip-prefix': { type: 'string' },
      },
      true,
    );
    if (positionals.length > 0)
      throw new UsageError(`precompute takes no arguments, got '${positionals[0]}'`);
    const str = (k: string) => v[k] as string | undefined;
    requireFlags(v, ['model', 'weights', 'input-size', 'count', 'key', 'out'], 'precompute');
    const inputSize = intFlag(str('input-size'), 'input-size', 1);
    const count = intFlag(str('count'), 'count', 1);
    const batch = intFlag(str('batch-size'), 'batch-size', 1);
    const numClasses = intFlag(str('num-classes'), 'num-classes', 10);
    const model = modelWithWeights(v, numClasses, inputSize);
    const inputShape = [batch, 3, inputSize, inputSize];
    const products = await recordForwardProducts(model, inputShape);
    const key = readKeyFile(str('key')!);
    try {
      const sets = makePadSets(products, count);
      const bytes = encodePadFile(key, { model: str('model')!, inputShape, count }, sets);
      writePadFile(str('out')!, bytes);
      console.log(
        `wrote ${count} pads for each of ${sets.size} layers (input [${inputShape.join(', ')}]) to ${str('out')}`,
      );
    } finally {
      wipe(key);
    }
    return 0;
  },
};
