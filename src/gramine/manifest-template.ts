// The Gramine manifest template (TOML with Jinja placeholders, Gramine 1.8/1.9 syntax) for the trusted
// process: node runs the built CLI's `enclave` command with a fixed argv (part of MRENCLAVE, so a
// host cannot change it); every file it loads is a trusted (hashed) file; the untrusted inbox is the
// only allowed file tree (its uploads are AES-GCM files the app verifies); sealed state goes through
// an encrypted mount keyed to MRENCLAVE. Paths are absolute host paths, mounted at the same path, so
// the same argv works under every launcher. gramine-manifest fills in the {{ … }} placeholders.
import { dirname } from 'node:path';

/** The file names `tee-offload manifest` writes and the Makefile builds (`gramine-sgx ./tee-offload`). */
export const APP_NAME = 'tee-offload';
export const TEMPLATE_FILE = `${APP_NAME}.manifest.template`;
/** The key of the encrypted mount: the SGX sealing key bound to this enclave's measurement. */
export const SEALING_KEY_NAME = '_sgx_mrenclave';

export interface ManifestSpec {
  /** Absolute path of the node binary (libos.entrypoint). */
  readonly node: string;
  /** Node.js flags before the script (argv[1..]). */
  readonly nodeFlags: readonly string[];
  /** Absolute path of the app (package root). */
  readonly appDir: string;
  /** Absolute path of the built CLI (dist/src/cli/main.js). */
  readonly cli: string;
  /** Arguments after the CLI script: `enclave --launcher gramine-sgx …`. */
  readonly enclaveArgs: readonly string[];
  /** Absolute path of the native addon. */
  readonly addon: string;
  /** Run-time packages (absolute directories under node_modules). */
  readonly packages: readonly string[];
  /** Absolute host paths of the shared libraries to trust (glibc's excluded: Gramine provides it). */
  readonly libraries: readonly string[];
  /** The arch libdir the libraries were found under ('/lib/x86_64-linux-gnu'); written as {{ arch_libdir }}. */
  readonly archLibdir: string;
  /** Untrusted upload directory (allowed files). */
  readonly inbox: string;
  /** Sealed-state directory (encrypted mount). */
  readonly sealed: string;
  /** A hosts file to mount at /etc/hosts (trusted). */
  readonly hostsFile: string;
  readonly env: Readonly<Record<string, string>>;
  readonly stackSize: string;
  readonly enclaveSize: string;
  readonly maxThreads: number;
  readonly debug: boolean;
  readonly isvprodid: number;
  readonly isvsvn: number;
  /** Comment lines put before the sgx section (the size and thread breakdowns). */
  readonly notes: readonly string[];
  /** First comment lines (what generated the file, for which model). */
  readonly header: readonly string[];
}

/** A TOML basic string. Refuses Jinja markup, which gramine-manifest would try to evaluate. */
export function tomlString(s: string): string {
  if (/\{\{|\{%|\{#/.test(s)) throw new RangeError(`'${s}' contains Jinja markup ({{, {% or {#)`);
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * A quoted TOML string of `prefix` + `path`, with {{ arch_libdir }} in place of the arch libdir where
 * the path starts with it (or with /usr and it), so that gramine-manifest -Darch_libdir decides it.
 */
export function libraryString(prefix: string, path: string, archLibdir: string): string {
  let head = '';
  let rest = path;
  if (path.startsWith(`${archLibdir}/`)) {
    head = '{{ arch_libdir }}';
    rest = path.slice(archLibdir.length);
  } else if (path.startsWith(`/usr${archLibdir}/`)) {
    head = '/usr{{ arch_libdir }}';
    rest = path.slice(archLibdir.length + 4);
  }
  return `"${tomlString(prefix).slice(1, -1)}${head}${tomlString(rest).slice(1)}`;
}

/** Library directories that the three standard mounts do not cover, in first-seen order. */
export function extraLibraryDirs(libraries: readonly string[], archLibdir: string): string[] {
  const dirs: string[] = [];
  for (const l of libraries) {
    const d = dirname(l);
    if (d === archLibdir || d === `/usr${archLibdir}`) continue;
    if (!dirs.includes(d)) dirs.push(d);
  }
  return dirs;
}

export function renderManifestTemplate(s: ManifestSpec): string {
  const a = s.archLibdir;
  const extraDirs = extraLibraryDirs(s.libraries, a);
  const ldPath = [
    '/lib',
    '{{ arch_libdir }}',
    '/usr{{ arch_libdir }}',
    ...extraDirs.map((d) => tomlString(d).slice(1, -1)),
  ];
  const argv = [s.node, ...s.nodeFlags, s.cli, ...s.enclaveArgs];
  const lines: string[] = [
    ...s.header.map((h) => `# ${h}`),
    '',
    '# The LibOS (Gramine fills in its path), then node as the first program of the enclave.',
    'loader.entrypoint.uri = "file:{{ gramine.libos }}"',
    `libos.entrypoint = ${tomlString(s.node)}`,
    'loader.log_level = "{{ log_level }}"',
    '',
    '# A fixed argv: it is part of the measured manifest, so the host cannot add flags or scripts.',
    'loader.argv = [',
    ...argv.map((x) => `  ${tomlString(x)},`),
    ']',
    '',
    "# Gramine's patched glibc (/lib) first, then the system libraries; thread pools pinned (see",
    '# sgx.max_threads); at most MALLOC_ARENA_MAX glibc arenas (each reserves enclave memory).',
    `loader.env.LD_LIBRARY_PATH = "${ldPath.join(':')}"`,
    ...Object.entries(s.env).map(([k, v]) => `loader.env.${k} = ${tomlString(v)}`),
    '',
    '# V8 needs about 1 MiB of stack on the main thread; Gramine defaults to 256K.',
    `sys.stack.size = ${tomlString(s.stackSize)}`,
    '# /etc/resolv.conf and the host name from the host (sanitised by Gramine), for the accelerator address.',
    'sys.enable_extra_runtime_domain_names_conf = true',
    '',
    'fs.mounts = [',
    '  { path = "/lib", uri = "file:{{ gramine.runtimedir() }}" },',
    '  { path = "{{ arch_libdir }}", uri = "file:{{ arch_libdir }}" },',
    '  { path = "/usr{{ arch_libdir }}", uri = "file:/usr{{ arch_libdir }}" },',
    ...extraDirs.map((d) => `  { path = ${tomlString(d)}, uri = ${tomlString(`file:${d}`)} },`),
    `  { path = ${tomlString(s.appDir)}, uri = ${tomlString(`file:${s.appDir}`)} },`,
    `  { path = ${tomlString(s.node)}, uri = ${tomlString(`file:${s.node}`)} },`,
    `  { path = "/etc/hosts", uri = ${tomlString(`file:${s.hostsFile}`)} },`,
    '  { type = "tmpfs", path = "/tmp" },',
    '  # Untrusted uploads: readable and writable by the host; the app verifies every AES-GCM tag.',
    `  { path = ${tomlString(s.inbox)}, uri = ${tomlString(`file:${s.inbox}`)} },`,
    '  # Sealed state: Gramine encrypts it with the SGX sealing key of this MRENCLAVE (SGX only).',
    `  { type = "encrypted", path = ${tomlString(s.sealed)}, uri = ${tomlString(`file:${s.sealed}`)}, key_name = "${SEALING_KEY_NAME}" },`,
    ']',
    '',
    ...s.notes.map((n) => (n === '' ? '#' : `# ${n}`)),
    '',
    s.debug
      ? '# --debug: a debug enclave (its memory can be read by a debugger; a client must refuse it in production).'
      : '# A production enclave (sgx.debug = true only with `tee-offload manifest --debug`).',
    `sgx.debug = ${s.debug}`,
    '# EDMM (dynamic enclave memory, SGX2 + Linux 6.0) is off: the enclave is committed at start, which the',
    '# size estimate accounts for. To try it: sgx.edmm_enable = true and sgx.use_exinfo = true (Node.js maps',
    '# MAP_NORESERVE memory); sgx.max_threads then only pre-allocates slots.',
    'sgx.edmm_enable = false',
    `sgx.enclave_size = ${tomlString(s.enclaveSize)}`,
    `sgx.max_threads = ${s.maxThreads}`,
    '# The quote in the attested handshake comes from DCAP (/dev/attestation/quote).',
    'sgx.remote_attestation = "dcap"',
    `sgx.isvprodid = ${s.isvprodid}`,
    `sgx.isvsvn = ${s.isvsvn}`,
    '',
    '# Hashed at signing time and checked on every open: code, libraries, the app and its packages.',
    'sgx.trusted_files = [',
    '  "file:{{ gramine.runtimedir() }}/",',
    `  ${tomlString(`file:${s.node}`)},`,
    ...s.libraries.map((l) => `  ${libraryString('file:', l, a)},`),
    `  ${tomlString(`file:${s.appDir}/package.json`)},`,
    `  ${tomlString(`file:${s.appDir}/dist/src/`)},`,
    `  ${tomlString(`file:${s.addon}`)},`,
    ...s.packages.map((p) => `  ${tomlString(`file:${p}/`)},`),
    `  ${tomlString(`file:${s.hostsFile}`)},`,
    ']',
    '',
    '# Neither hashed nor encrypted: only the inbox of encrypted uploads.',
    'sgx.allowed_files = [',
    `  ${tomlString(`file:${s.inbox}/`)},`,
    ']',
    '',
  ];
  return lines.join('\n');
}
