// `tee-offload report RESULTS_DIR [--out DIR]`: charts (SVG + PNG) and an HTML page with every number
// from the JSON that `tee-offload bench` wrote. Warnings go to stderr; the paths written to stdout.
import { writeReport } from '../../report/write-report.js';
import { type Command, UsageError } from '../command.js';
import { parseFlags } from '../parse.js';

const HELP = [
  'usage: tee-offload report RESULTS_DIR [--out DIR]',
  '',
  'Reads the experiment results in RESULTS_DIR (the <experiment>-<timestamp>.json files of',
  '`tee-offload bench`, and any bench-kernels-t<T>-*.json) and writes to DIR:',
  '  step-time     training step (and epoch) time per mode and model, log scale',
  '  breakdown     a split-mode step by kind of work, stacked',
  '  matrix        one linear layer, trusted-only against split, time against rows',
  '  matrix-phases the same sweep by phase (load, send, compute, receive, verify)',
  '  crypto        AES-256-GCM throughput, client and trusted process',
  '  equivalence   max |difference| from the native reference per mode and thread count',
  '  peer          our speed relative to PyTorch CPU, with rules at 1.0 and 0.9',
  'each as .svg and .png (charts without data are left out), and index.html: the charts, every',
  'record (failed ones too), the machine, the commands and timestamps. Of several runs of one',
  'experiment the newest is used; the page names it. Files that cannot be read are skipped with a',
  'warning; a directory with no usable results fails with E_FORMAT (exit 3). See docs/report.md.',
  '',
  'options:',
  '  --out DIR   where to write the report (default: report); created if missing, files replaced',
].join('\n');

export const reportCommand: Command = {
  name: 'report',
  summary: 'charts (SVG, PNG) and an HTML page from the JSON results of `bench`',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { out: { type: 'string' } }, true);
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length === 0
          ? 'report needs RESULTS_DIR (see tee-offload report --help)'
          : `report takes one RESULTS_DIR, got ${positionals.length} arguments`,
      );
    const out = (values.out as string | undefined) ?? 'report';
    if (out === '') throw new UsageError('--out needs a directory');
    const { files, warnings } = await writeReport(positionals[0]!, out);
    for (const w of warnings) console.error(`tee-offload report: warning: ${w}`);
    for (const f of files) console.log(f);
    console.log(`wrote ${files.length} files; open ${files[files.length - 1]}`);
    return 0;
  },
};
