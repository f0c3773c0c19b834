// The command line of the trusted process after `node dist/src/cli/main.js`: the same under every
// launcher (under Gramine it is baked into the manifest's loader.argv, so it is measured).
import type { EnclaveMode } from './enclave-size.js';

export type LauncherKind = 'direct' | 'gramine-direct' | 'gramine-sgx';

export const LAUNCHERS: readonly LauncherKind[] = ['direct', 'gramine-direct', 'gramine-sgx'];

export interface EnclaveConfig {
  readonly launcher: LauncherKind;
  readonly mode: EnclaveMode;
  readonly model: string;
  readonly batchSize: number;
  readonly inputSize: number;
  readonly numClasses: number;
  readonly threads: number;
  /** Directory of untrusted (encrypted) uploads. */
  readonly inbox: string;
  /** Directory of sealed state. */
  readonly sealed: string;
}

/** `enclave --launcher L --mode M --model …`, then `extra` unchanged. */
export function enclaveArgs(c: EnclaveConfig, extra: readonly string[] = []): string[] {
  return [
    'enclave',
    '--launcher',
    c.launcher,
    '--mode',
    c.mode,
    '--model',
    c.model,
    '--batch-size',
    String(c.batchSize),
    '--input-size',
    String(c.inputSize),
    '--num-classes',
    String(c.numClasses),
    '--threads',
    String(c.threads),
    '--inbox',
    c.inbox,
    '--sealed',
    c.sealed,
    ...extra,
  ];
}
