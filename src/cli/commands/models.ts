// `tee-offload models`: every model with its parameter count and forward FLOPs at an input size.
import { describeModel, modelNames } from '../../models/index.js';
import type { Command } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';

export const modelsCommand: Command = {
  name: 'models',
  summary: 'list the models with parameter counts and FLOPs',
  help: `usage: tee-offload models [--input-size S] [--num-classes K] [--json]

Lists every model (torchvision structure and names) with its trainable parameters and the forward
FLOPs of one image through the linear layers (conv + linear, 2 per multiply-accumulate), at S×S.

options:
  --input-size S    square input side (default 224)
  --num-classes K   classifier size (default 1000, as torchvision)
  --json            one JSON object per model`,
  async run(argv) {
    const { values: v } = parseFlags(argv, {
      'input-size': { type: 'string' },
      'num-classes': { type: 'string' },
      json: { type: 'boolean' },
    });
    const inputSize = intFlag(v['input-size'] as string | undefined, 'input-size', 224);
    const numClasses = intFlag(v['num-classes'] as string | undefined, 'num-classes', 1000);
    if (!v.json)
      console.log(
        `${'model'.padEnd(10)} ${'params'.padStart(13)} ${'GFLOPs'.padStart(8)}  (input ${inputSize}×${inputSize}, ${numClasses} classes)`,
      );
    for (const name of modelNames) {
      if (inputSize < describeModel(name, { numClasses, inputSize: 224 }).minInputSize) {
        if (!v.json)
          console.log(
            `${name.padEnd(10)} ${'-'.padStart(13)} ${'-'.padStart(8)}  needs at least ${describeModel(name).minInputSize}×${describeModel(name).minInputSize}`,
          );
        continue;
      }
      const d = describeModel(name, { numClasses, inputSize });
      if (v.json) console.log(JSON.stringify(d));
      else
        console.log(
          `${name.padEnd(10)} ${d.parameters.toLocaleString('en-US').padStart(13)} ${(d.flops / 1e9).toFixed(3).padStart(8)}  ${d.summary}`,
        );
    }
    return 0;
  },
};
