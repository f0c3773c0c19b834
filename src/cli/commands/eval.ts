// `tee-offload eval`: accuracy and mean loss of a model on a data set (eval mode, no gradients).
import { openDataset } from '../../data/open-dataset.js';
import { kernels } from '../../kernels/index.js';
import { evaluateDataset } from '../../train/trainer.js';
import { type Command, UsageError } from '../command.js';
import { EVAL_FLAGS } from '../command-flags.js';
import { modelWithWeights } from '../model-setup.js';
import { intFlag, parseFlags, requireFlags } from '../parse.js';
import { modeHelp, routeMode } from '../run-modes.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'accuracy and loss of a model on a data set',
  help: `usage: tee-offload eval --model M --weights W --data DATA [options]

Runs M in eval mode (BatchNorm running statistics, no dropout) over DATA's test split (the whole
set for synthetic data and batch files) and prints accuracy and mean cross-entropy.

options:
  --model M          model name (tee-offload models)
  --weights W        .safetensors or PyTorch .pth
  --data DATA        as for train (see tee-offload train --help)
  --split S          test (default) or train
  --num-classes K    (default 10)
  --input-size S     (default: the data's size)
  --batch-size B     (default 64)
  --strip-prefix P   drop P from every key of --weights
  --threads T        kernel threads
  --json             print one JSON object
${modeHelp('eval')}`,
  async run(argv) {
    const routed = await routeMode('eval', argv);
    if (typeof routed === 'number') return routed;
    argv = routed;
    const { values: v } = parseFlags(argv, EVAL_FLAGS);
    const str = (k: string) => v[k] as string | undefined;
    requireFlags(v, ['model', 'weights', 'data'], 'eval');
    const split = str('split') ?? 'test';
    if (split !== 'test' && split !== 'train') throw new UsageError('--split must be test or train');
    if (str('threads') !== undefined) kernels.setThreads(intFlag(str('threads'), 'threads', 1));
    const numClasses = intFlag(str('num-classes'), 'num-classes', 10);
    const ds = openDataset(str('data')!, { split, channels: 3, numClasses });
    const inputSize = intFlag(str('input-size'), 'input-size', ds.height);
    const model = modelWithWeights(v, numClasses, inputSize);
    const t0 = performance.now();
    const r = await evaluateDataset(model, ds, inputSize, intFlag(str('batch-size'), 'batch-size', 64));
    const sec = (performance.now() - t0) / 1000;
    if (v.json) console.log(JSON.stringify({ ...r, seconds: sec }));
    else {
      console.log(
        `accuracy ${(100 * r.accuracy).toFixed(2)}%  loss ${r.loss.toFixed(4)}  on ${r.samples} images (${ds.name}, ${split})  ${(r.samples / sec).toFixed(1)} img/s`,
      );
    }
    return 0;
  },
};
