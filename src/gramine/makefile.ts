// The Makefile written next to the manifest template: renders it with gramine-manifest, signs it with
// gramine-sgx-sign (making a signing key with gramine-sgx-gen-private-key the first time), and runs
// the enclave under gramine-direct or gramine-sgx. Recipes are tab-indented, as make requires.
import { APP_NAME, TEMPLATE_FILE } from './manifest-template.js';

export interface MakefileSpec {
  /** Default for ARCH_LIBDIR (the directory the libraries were found in). */
  readonly archLibdir: string;
  readonly header: readonly string[];
}

export function renderMakefile(s: MakefileSpec): string {
  const m = `${APP_NAME}.manifest`;
  const rules: (string | string[])[] = [
    ...s.header.map((h) => `# ${h}`),
    '#',
    `#   make              render ${m} from the template, then sign it (${m}.sgx, ${APP_NAME}.sig)`,
    '#   make run-direct   run under gramine-direct: no SGX, no attestation (checks the manifest)',
    '#   make run-sgx      run inside an SGX enclave',
    '#   make clean        remove what make made (never the signing key)',
    '#',
    "# Needs Gramine 1.8 or later (packages.gramineproject.io). DEBUG=1 gives Gramine's debug log;",
    '# only the default (error) level is suitable for production. Re-run make after rebuilding the app:',
    '# the trusted files are hashed when signing, and a changed file no longer opens in the enclave.',
    '',
    `ARCH_LIBDIR ?= ${s.archLibdir}`,
    'SGX_SIGNER_KEY ?= $(HOME)/.config/gramine/enclave-key.pem',
    'ifeq ($(DEBUG),1)',
    'LOG_LEVEL = debug',
    'else',
    'LOG_LEVEL = error',
    'endif',
    '',
    '.PHONY: all run-direct run-sgx clean',
    `all: ${m} ${m}.sgx ${APP_NAME}.sig`,
    '',
    `${m}: ${TEMPLATE_FILE}`,
    ['gramine-manifest -Dlog_level=$(LOG_LEVEL) -Darch_libdir=$(ARCH_LIBDIR) $< $@'],
    '',
    '$(SGX_SIGNER_KEY):',
    ['mkdir -p $(dir $@)', 'gramine-sgx-gen-private-key $@'],
    '',
    "# One command makes both files (a grouped target: make 4.3 or later). The signer's depfile adds",
    '# every trusted file as a prerequisite, so a rebuilt app is signed again.',
    `${m}.sgx ${APP_NAME}.sig &: ${m} | $(SGX_SIGNER_KEY)`,
    [`gramine-sgx-sign --key $(SGX_SIGNER_KEY) --manifest ${m} --output ${m}.sgx --depfile ${APP_NAME}.d`],
    `-include ${APP_NAME}.d`,
    '',
    `run-direct: ${m}`,
    [`gramine-direct ./${APP_NAME}`],
    '',
    `run-sgx: ${m}.sgx ${APP_NAME}.sig`,
    [`gramine-sgx ./${APP_NAME}`],
    '',
    'clean:',
    [`$(RM) ${m} ${m}.sgx ${APP_NAME}.sig ${APP_NAME}.d`],
    '',
  ];
  return rules.map((r) => (typeof r === 'string' ? r : r.map((c) => `\t${c}`).join('\n'))).join('\n');
}
