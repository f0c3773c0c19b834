// `tee-offload train`: train a model on a data set with SGD, printing progress, evaluating after each
// epoch, checkpointing atomically, resuming bit-identically.
import { openDataset } from '../../data/open-dataset.js';
import { kernels } from '../../kernels/index.js';
import { SCHEDULE_KINDS, type ScheduleKind } from '../../train/lr-schedule.js';
import { chooseReporter } from '../../train/progress.js';
import { runTraining, type TrainSettings } from '../../train/trainer.js';
import { type Command, UsageError } from '../command.js';
import { NATIVE_TRAIN_FLAGS } from '../command-flags.js';
import { buildModel } from '../model-setup.js';
import { floatFlag, intFlag, parseFlags } from '../parse.js';
import { modeHelp, routeMode } from '../run-modes.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a model (SGD, schedules, eval per epoch, checkpoints, resume)',
  help: `usage: tee-offload train --model M --data DATA [options]

Trains M with SGD on DATA, evaluating after each epoch when DATA has a test split.

data (--data):
  synthetic[:N]          seeded learnable images (default 256)
  fashion-mnist[:DIR]    IDX files (Debian's dataset-fashion-mnist by default), gray → 3 channels
  cifar10:DIR | DIR      CIFAR-10 binary batches (tee-offload data fetch cifar10 --dir DIR)
  FILE.safetensors       one batch ('input' [N,C,H,W] F32, 'labels' I64) used as given every step

options:
  --model M              ${'alexnet, vgg11..vgg19[_bn], resnet18, resnet34'}
  --num-classes K        size of the classifier (default 10)
  --input-size S         square input side; images are resized to it (default: the data's size)
  --batch-size B         (default 32; a batch file uses its own size)
  --epochs E | --steps S how long to train (default: 1 epoch)
  --lr LR                learning rate (default 0.01)
  --momentum M           (default 0.9)
  --weight-decay WD      (default 5e-4)
  --nesterov             Nesterov momentum
  --schedule KIND        constant | step | cosine (default constant)
  --weights FILE         initial weights: .safetensors or PyTorch .pth (torchvision names)
  --strip-prefix P       drop P from every key of --weights (e.g. module.)
  --save FILE            write the final model state (safetensors, torchvision names)
  --checkpoint FILE      write a checkpoint here every --checkpoint-every steps and at the end
  --checkpoint-every N   (default 100)
  --resume FILE          continue from a checkpoint, bit-identically
  --seed N               seeds weights, shuffling, augmentation and dropout (default 1)
  --dropout P            classifier dropout of AlexNet/VGG (default 0.5)
  --threads T            kernel threads (default: all cores)
  --no-deterministic     allow kernels whose last bits depend on the thread count (by default
                         results are bit-identical for any thread count, at ≤ 10% cost)
  --no-augment           no random crop / flip
  --json                 one JSON object per line on stdout (steps, evals, checkpoints)
${modeHelp('train')}`,
  async run(argv) {
    const routed = await routeMode('train', argv);
    if (typeof routed === 'number') return routed;
    argv = routed;
    const { values: v } = parseFlags(argv, NATIVE_TRAIN_FLAGS);
    const str = (k: string) => v[k] as string | undefined;
    const model = str('model');
    const data = str('data');
    if (model === undefined) throw new UsageError('--model is required (see tee-offload train --help)');
    if (data === undefined) throw new UsageError('--data is required (see tee-offload train --help)');
    if (str('epochs') !== undefined && str('steps') !== undefined)
      throw new UsageError('give --epochs or --steps, not both');
    const schedule = (str('schedule') ?? 'constant') as ScheduleKind;
    if (!SCHEDULE_KINDS.includes(schedule))
      throw new UsageError(`--schedule must be one of ${SCHEDULE_KINDS.join(', ')}`);
    if (v['no-deterministic'] === true) kernels.setDeterministic(false);
    if (str('threads') !== undefined) kernels.setThreads(intFlag(str('threads'), 'threads', 1));
    const numClasses = intFlag(str('num-classes'), 'num-classes', 10);
    const seed = intFlag(str('seed'), 'seed', 1, 0);
    const train = openDataset(data, { split: 'train', channels: 3, numClasses });
    const test =
      train.kind === 'cifar10' || train.kind === 'fashion-mnist'
        ? openDataset(data, { split: 'test', channels: 3, numClasses })
        : undefined;
    const inputSize = intFlag(str('input-size'), 'input-size', train.height);
    let batchSize = intFlag(str('batch-size'), 'batch-size', 32);
    if (train.asGiven && batchSize !== train.length) {
      if (str('batch-size') !== undefined)
        process.stderr.write(`note: ${data} is used as given: batch size ${train.length}\n`);
      batchSize = train.length;
    }
    const epochs =
      str('epochs') === undefined && str('steps') === undefined
        ? 1
        : str('epochs') === undefined
          ? undefined
          : intFlag(str('epochs'), 'epochs', 1);
    const steps = str('steps') === undefined ? undefined : intFlag(str('steps'), 'steps', 1);
    const settings: TrainSettings = {
      model,
      numClasses,
      inputSize,
      batchSize,
      ...(epochs === undefined ? {} : { epochs }),
      ...(steps === undefined ? {} : { steps }),
      lr: floatFlag(str('lr'), 'lr', 0.01),
      momentum: floatFlag(str('momentum'), 'momentum', 0.9),
      weightDecay: floatFlag(str('weight-decay'), 'weight-decay', 5e-4),
      nesterov: v.nesterov === true,
      schedule,
      seed,
      augment: v['no-augment'] !== true,
    };
    const net = buildModel({
      model,
      numClasses,
      inputSize,
      seed,
      ...(str('dropout') === undefined ? {} : { dropout: floatFlag(str('dropout'), 'dropout', 0.5) }),
      ...(str('weights') === undefined ? {} : { weights: str('weights')! }),
      ...(str('strip-prefix') === undefined ? {} : { stripPrefix: str('strip-prefix')! }),
    });
    const reporter = chooseReporter({ json: v.json === true });
    try {
      const summary = await runTraining({
        settings,
        model: net,
        train,
        ...(test ? { test } : {}),
        ...(str('resume') === undefined ? {} : { resume: str('resume')! }),
        ...(str('checkpoint') === undefined ? {} : { checkpoint: str('checkpoint')! }),
        checkpointEvery: intFlag(str('checkpoint-every'), 'checkpoint-every', 100),
        ...(str('save') === undefined ? {} : { save: str('save')! }),
        reporter,
      });
      if (v.json !== true && str('save') !== undefined) process.stderr.write(`saved ${str('save')}\n`);
      return summary.steps >= 0 ? 0 : 1;
    } finally {
      reporter.close();
    }
  },
};
