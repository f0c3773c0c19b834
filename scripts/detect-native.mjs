// Build-time feature detection for binding.gyp: `node scripts/detect-native.mjs <what>` prints one token
// on stdout and never fails. what = openblas | onednn | openmp → "1" or "0" (a tiny program must
// compile AND link against the library); simd → "-mavx2 -mfma" when the compiler accepts the flags and
// the build machine runs AVX2+FMA code, else nothing (portable flags). Overrides for testing fallbacks:
// TEE_OFFLOAD_NO_OPENBLAS=1, TEE_OFFLOAD_NO_ONEDNN=1, TEE_OFFLOAD_NO_OPENMP=1, TEE_OFFLOAD_PORTABLE=1.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROBES = {
  openblas: {
    env: 'TEE_OFFLOAD_NO_OPENBLAS',
    flags: ['-lopenblas'],
    source: `#include <cblas.h>
int main() {
  float a = 1, b = 1, c = 0;
  openblas_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  return c == 1.0f && openblas_get_num_threads() >= 1 ? 0 : 1;
}`,
  },
  onednn: {
    env: 'TEE_OFFLOAD_NO_ONEDNN',
    flags: ['-std=c++17', '-ldnnl'],
    source: `#include <oneapi/dnnl/dnnl.hpp>
int main() {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const dnnl_version_t* v = dnnl_version();
  return v->major >= 2 ? 0 : 1;
}`,
  },
  openmp: {
    env: 'TEE_OFFLOAD_NO_OPENMP',
    flags: ['-fopenmp'],
    source: `#include <omp.h>
int main() {
  int n = 0;
#pragma omp parallel reduction(+ : n)
  n += 1;
  return n >= 1 && omp_get_max_threads() >= 1 ? 0 : 1;
}`,
  },
  simd: {
    env: 'TEE_OFFLOAD_PORTABLE',
    flags: ['-mavx2', '-mfma'],
    source: `#include <immintrin.h>
int main() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 1;
  volatile float x = 1.0f;
  __m256 a = _mm256_set1_ps(x);
  __m256 r = _mm256_fmadd_ps(a, a, a);
  return _mm256_cvtss_f32(r) == 2.0f ? 0 : 1;
}`,
  },
};

function probe(what) {
  const p = PROBES[what];
  if (!p) return false;
  if (process.env[p.env] === '1') {
    process.stderr.write(`detect-native: ${what} disabled by ${p.env}=1\n`);
    return false;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tee-detect-'));
  try {
    const src = join(dir, 'probe.cc');
    const exe = join(dir, 'probe');
    writeFileSync(src, p.source);
    const cxx = process.env.CXX || 'c++';
    const cc = spawnSync(cxx, ['-O1', src, '-o', exe, ...p.flags], { encoding: 'utf8', timeout: 120_000 });
    if (cc.status !== 0) return false;
    // Run it: linking is not enough (a missing shared library or an unsupported instruction shows here).
    const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 60_000 });
    return run.status === 0;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const what = process.argv[2] ?? '';
const ok = probe(what);
if (what === 'simd') process.stdout.write(ok ? '-mavx2 -mfma\n' : '\n');
else process.stdout.write(ok ? '1\n' : '0\n');
process.stderr.write(`detect-native: ${what || '(nothing)'} ${ok ? 'found' : 'not available'}\n`);
