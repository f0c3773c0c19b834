// `tee-offload data fetch cifar10 --dir D`: download (when the network allows), verify and unpack
// CIFAR-10's binary archive; an archive or folder already present is verified and reported.
import { fetchCifar10 } from '../../data/fetch-cifar10.js';
import { type Command, UsageError } from '../command.js';
import { parseFlags } from '../parse.js';

export const dataCommand: Command = {
  name: 'data',
  summary: 'fetch and verify data sets (data fetch cifar10 --dir D)',
  help: `usage: tee-offload data fetch cifar10 --dir D

Downloads CIFAR-10's binary archive into D (when the network allows), checks its published MD5
(c32a1d4ab5d03f1284b67883e8d87530) and unpacks it to D/cifar-10-batches-bin. An archive or folder
already in D is verified and reported as such. Offline, the message names the file to place in D
by hand. Fashion-MNIST needs no fetch: install Debian's dataset-fashion-mnist and use
--data fashion-mnist.

options:
  --dir D     target folder (created if missing)`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { dir: { type: 'string' } }, true);
    const [verb, what] = positionals;
    if (verb !== 'fetch') throw new UsageError(`unknown data subcommand '${verb ?? ''}' (expected: fetch)`);
    if (what !== 'cifar10') throw new UsageError(`unknown data set '${what ?? ''}' (expected: cifar10)`);
    if (values.dir === undefined) throw new UsageError('--dir is required');
    const r = await fetchCifar10(values.dir as string, { log: (l) => process.stderr.write(`${l}\n`) });
    console.log(r.message);
    return 0;
  },
};
