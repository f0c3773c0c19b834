// What gramine-manifest would do to our template, for tests: replaces the Jinja placeholders we use
// with the values a Debian install of Gramine gives, refuses any other markup, and parses the TOML.
import { parse } from 'smol-toml';

export const TEST_VALUES = {
  libos: '/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so',
  runtimedir: '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc',
  archLibdir: '/lib/x86_64-linux-gnu',
  logLevel: 'error',
} as const;

export function renderTemplate(template: string): string {
  const out = template
    .replaceAll('{{ gramine.libos }}', TEST_VALUES.libos)
    .replaceAll('{{ gramine.runtimedir() }}', TEST_VALUES.runtimedir)
    .replaceAll('{{ arch_libdir }}', TEST_VALUES.archLibdir)
    .replaceAll('{{ log_level }}', TEST_VALUES.logLevel);
  const left = /\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}/.exec(out);
  if (left) throw new Error(`unexpected Jinja markup left: ${left[0]}`);
  return out;
}

export type Toml = Record<string, unknown>;

export function parseManifest(template: string): Toml {
  return parse(renderTemplate(template)) as Toml;
}

/** The value at a dotted key path ('sgx.enclave_size'), or undefined. */
export function at(doc: Toml, path: string): unknown {
  let v: unknown = doc;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Every leaf key path of a TOML document (arrays and inline tables inside arrays are leaves). */
export function leafPaths(doc: Toml, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const p = prefix === '' ? k : `${prefix}.${k}`;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)) {
      out.push(...leafPaths(v as Toml, p));
    } else out.push(p);
  }
  return out;
}

/** "4G" → bytes, as gramine-sgx-sign's parse_size. */
export function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(s);
  if (!m) throw new Error(`not a Gramine size: '${s}'`);
  const scale = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * scale;
}
