// The shared libraries node and the native addon load, to list as trusted files: found by running
// `ldd` on both where it exists, else a documented default list for the addon (Debian's OpenBLAS,
// oneDNN and their runtime). glibc's own libraries are not listed one by one: inside Gramine they come
// from Gramine's patched glibc in {{ gramine.runtimedir() }}, which is first on LD_LIBRARY_PATH and
// trusted as a whole directory.
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';

/** Sonames of the glibc that Gramine ships in its runtime directory (glibc 2.40 in Gramine 1.9). */
const GLIBC_SONAME =
  /^(ld-linux-x86-64\.so\.2|ld\.so|libc\.so\.6|libdl\.so\.2|libm\.so\.6|libmvec\.so\.1|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libanl\.so\.1|libutil\.so\.1|libnsl\.so\.1|libthread_db\.so\.1|libnss_[a-z]+\.so\.2)$/;

/** True for a library Gramine's runtime directory provides (its host copy is never loaded). */
export function isGlibcLibrary(path: string): boolean {
  return GLIBC_SONAME.test(basename(path));
}

/**
 * What the addon links on Debian 12 when `ldd` cannot be run (`ldd build/Release/tee_offload.node`):
 * OpenBLAS (pthread build, with its Fortran runtime), oneDNN (with the OpenCL ICD loader it links),
 * GNU OpenMP, the C++ runtime, and glibc's libm/libc (served by Gramine). Names under the arch libdir.
 */
export const DEFAULT_ADDON_LIBRARIES: readonly string[] = [
  'libopenblas.so.0',
  'libgfortran.so.5',
  'libquadmath.so.0',
  'libdnnl.so.2',
  'libOpenCL.so.1',
  'libgomp.so.1',
  'libstdc++.so.6',
  'libgcc_s.so.1',
  'libm.so.6',
  'libc.so.6',
];

export interface LibraryScan {
  /** Absolute paths of every library found, glibc's included, sorted, each once. */
  readonly libraries: readonly string[];
  /** Sonames ldd could not resolve ("not found"): the process would not start. */
  readonly missing: readonly string[];
  /** 'ldd', or 'default' when ldd could not be run on a binary (then that binary's list is the default). */
  readonly source: 'ldd' | 'default';
  /** One line per binary that could not be scanned, and why. */
  readonly notes: readonly string[];
}

/** Parses `ldd` output (one or several binaries): resolved absolute paths, and the unresolved names. */
export function parseLdd(output: string): { libraries: string[]; missing: string[] } {
  const libs = new Set<string>();
  const missing = new Set<string>();
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.endsWith(':')) continue; // blank, or the header of one of several binaries
    const arrow = /^(\S+)\s+=>\s+(.*)$/.exec(line);
    if (arrow) {
      const target = arrow[2]!.trim();
      if (target.startsWith('not found')) missing.add(arrow[1]!);
      else if (target.startsWith('/')) libs.add(target.split(/\s+/)[0]!);
      continue; // `linux-vdso.so.1 =>  (0x…)` (old ldd): no file
    }
    const direct = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/i.exec(line);
    if (direct) libs.add(direct[1]!); // the dynamic loader, listed by its path
    // `linux-vdso.so.1 (0x…)` has no file on disk: skipped
  }
  return { libraries: [...libs].sort(), missing: [...missing].sort() };
}

export interface ScanOptions {
  /** The ldd to run (default 'ldd' from PATH); null never runs it (the default list is used). */
  readonly ldd?: string | null;
  /** Where DEFAULT_ADDON_LIBRARIES live (default '/lib/x86_64-linux-gnu'). */
  readonly archLibdir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Libraries of `node` and `addon`. Node's own list has no default: a node that ldd cannot read is
 * static or not ELF, and its libraries (if any) are unknown, which the notes say.
 */
export function scanLibraries(node: string, addon: string, opts: ScanOptions = {}): LibraryScan {
  const archLibdir = opts.archLibdir ?? '/lib/x86_64-linux-gnu';
  const libs = new Set<string>();
  const missing = new Set<string>();
  const notes: string[] = [];
  let source: 'ldd' | 'default' = 'ldd';
  for (const [what, file] of [
    ['node', node],
    ['addon', addon],
  ] as const) {
    const why = runLdd(opts.ldd === undefined ? 'ldd' : opts.ldd, file, opts.env);
    if (typeof why !== 'string') {
      for (const l of why.libraries) libs.add(l);
      for (const m of why.missing) missing.add(m);
      continue;
    }
    notes.push(`${what} ${file}: ${why}`);
    if (what === 'addon') {
      source = 'default';
      for (const l of DEFAULT_ADDON_LIBRARIES) libs.add(`${archLibdir}/${l}`);
    }
  }
  return { libraries: [...libs].sort(), missing: [...missing].sort(), source, notes };
}

function runLdd(
  ldd: string | null,
  file: string,
  env: NodeJS.ProcessEnv | undefined,
): { libraries: string[]; missing: string[] } | string {
  if (ldd === null) return 'ldd not used; default list';
  const r = spawnSync(ldd, [file], { encoding: 'utf8', timeout: 30_000, env: env ?? process.env });
  if (r.error)
    return `cannot run ${ldd} (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); default list`;
  if (r.status !== 0) {
    const msg = `${r.stderr}${r.stdout}`.trim().split('\n')[0] ?? '';
    return `${ldd} failed (${msg || `exit ${r.status}`}); default list`;
  }
  return parseLdd(r.stdout);
}
