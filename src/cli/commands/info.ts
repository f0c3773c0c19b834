// `tee-offload info`: which kernels are in use (BLAS, convolution), thread counts, CPU features, and
// whether this machine's accelerator could compute on a CUDA GPU (`accelerator --backend cuda`).
import { cpus, totalmem } from 'node:os';
import { openGpu } from '../../accelerator/gpu-linear.js';
import { kernels } from '../../kernels/index.js';
import { CONV_BACKEND_ENV } from '../../kernels/native.js';
import { wideKernels } from '../../verify/native-wide.js';
import type { Command } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show the compute backend: BLAS, convolution engine, threads, CPU features',
  help: [
    'usage: tee-offload info [--threads T] [--json]',
    '',
    'Prints which GEMM (OpenBLAS or the built-in fallback) and which convolution engine (oneDNN or',
    'im2col + GEMM) the native addon was built with, the thread count in use and the CPU features,',
    'and whether `tee-offload accelerator --backend cuda` would find a GPU here: it opens the first',
    'CUDA device as the accelerator would (loading the driver, NVRTC and cuBLAS, compiling the',
    'kernels), or says what is missing (docs/gpu.md).',
    '',
    `${CONV_BACKEND_ENV}=im2col (or onednn) in the environment picks the convolution engine of every`,
    'command at run time.',
    '',
    'options:',
    '  --threads T       set the kernel thread count first (default: all cores)',
    '  --cuda-libs DIRS  colon-separated folders of libcuda, libnvrtc and libcublas to try first',
    '                    (default: $TEE_OFFLOAD_CUDA_LIBS)',
    '  --json            print one JSON object instead of text',
  ].join('\n'),
  async run(argv) {
    const { values } = parseFlags(argv, {
      threads: { type: 'string' },
      json: { type: 'boolean' },
      'cuda-libs': { type: 'string' },
    });
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
      wideCheckIfma: ifmaInUse(),
      gpu: probeGpu((values['cuda-libs'] as string | undefined) ?? process.env.TEE_OFFLOAD_CUDA_LIBS),
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
    const convNote =
      k.conv !== 'im2col'
        ? ''
        : process.env[CONV_BACKEND_ENV] === 'im2col'
          ? ` (im2col + GEMM, chosen by ${CONV_BACKEND_ENV})`
          : ' (im2col + GEMM; install libdnnl-dev and rebuild for full speed)';
    console.log(`conv        ${k.conv}${convNote}`);
    console.log(`threads     ${k.threads} of ${k.maxThreads}`);
    console.log(
      `determinism ${k.deterministic ? 'on: results do not depend on the thread count' : 'off: last bits may change with the thread count'}`,
    );
    console.log(`cpu flags   ${k.cpuFeatures.join(' ')}`);
    console.log(
      `checks      ${report.wideCheckIfma ? 'wide field on AVX-512 IFMA (52-bit multiply-adds)' : 'wide field on 25-bit limbs (no AVX-512 IFMA in use)'}`,
    );
    const g = report.gpu;
    console.log(
      g.available
        ? `gpu         ${g.name} (CUDA, sm ${g.computeCapability}, ${g.memoryGiB} GiB): accelerator --backend cuda can use it`
        : `gpu         none usable (${g.reason})`,
    );
    return 0;
  },
};

/** Whether the wide check's kernels use AVX-512 IFMA (false where the addon or the CPU lacks them). */
function ifmaInUse(): boolean {
  try {
    return wideKernels.ifmaInUse();
  } catch {
    return false;
  }
}

type GpuReport =
  | {
      readonly available: true;
      readonly name: string;
      readonly computeCapability: string;
      readonly memoryGiB: number;
    }
  | { readonly available: false; readonly reason: string };

/** Opens the first CUDA GPU as `accelerator --backend cuda` would, or says why it cannot. */
function probeGpu(libs: string | undefined): GpuReport {
  try {
    const g = openGpu('cuda', libs ? { libDirs: libs.split(':').filter((d) => d !== '') } : {});
    return {
      available: true,
      name: g.name,
      computeCapability: g.computeCapability,
      memoryGiB: Math.round(g.memoryBytes / 2 ** 30),
    };
  } catch (e) {
    return {
      available: false,
      reason: (e as Error).message.replace(/^cannot open the cuda GPU backend: /, ''),
    };
  }
}
