// `tee-offload info`: which kernels are in use (BLAS, convolution), thread counts and CPU features.
import { cpus, totalmem } from 'node:os';
import { kernels } from '../../kernels/index.js';
import type { Command } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show the compute backend: BLAS, convolution engine, threads, CPU features',
  help: [
    'usage: tee-offload info [--threads T] [--json]',
    '',
    'Prints which GEMM (OpenBLAS or the built-in fallback) and which convolution engine (oneDNN or',
    'im2col + GEMM) the native addon was built with, the thread count in use and the CPU features.',
    '',
    'options:',
    '  --threads T   set the kernel thread count first (default: all cores)',
    '  --json        print one JSON object instead of text',
  ].join('\n'),
  async run(argv) {
    const { values } = parseFlags(argv, { threads: { type: 'string' }, json: { type: 'boolean' } });
    if (values.threads !== undefined) kernels.setThreads(intFlag(values.threads as string, 'threads', 1));
    const k = kernels.info();
    const cpu = cpus()[0]?.model ?? 'unknown';
    const report = {
      node: process.version,
      cpu,
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      blas: k.blas,
      conv: k.conv,
      threads: k.threads,
      maxThreads: k.maxThreads,
      cpuFeatures: k.cpuFeatures,
      deterministic: k.deterministic,
    };
    if (values.json) {
      console.log(JSON.stringify(report));
      return 0;
    }
    console.log(`node        ${report.node}`);
    console.log(`cpu         ${report.cpu} (${report.cores} cores, ${report.memoryGiB} GiB)`);
    console.log(
      `gemm        ${k.blas}${k.blas === 'builtin' ? ' (portable fallback: slow; install libopenblas-dev and rebuild)' : ''}`,
    );
    console.log(
      `conv        ${k.conv}${k.conv === 'im2col' ? ' (im2col + GEMM; install libdnnl-dev and rebuild for full speed)' : ''}`,
    );
    console.log(`threads     ${k.threads} of ${k.maxThreads}`);
    console.log(
      `determinism ${k.deterministic ? 'on: results do not depend on the thread count' : 'off: last bits may change with the thread count'}`,
    );
    console.log(`cpu flags   ${k.cpuFeatures.join(' ')}`);
    return 0;
  },
};
