// What each experiment run mode asks of RemoteLinearOps (or of a split job): the integrity mode and, in
// exact mode, the field. split-exact uses the default field (wide); split-exact-p24 the single prime
// 2^24 − 3, kept to measure what the wide field changed. Modes without an accelerator: undefined.
import type { RunMode } from './schema.js';

export interface RemoteChoice {
  readonly integrity: 'exact' | 'float' | 'off';
  readonly field?: 'wide' | 'p24';
}

const CHOICES: Partial<Record<RunMode, RemoteChoice>> = {
  'split-exact': { integrity: 'exact' },
  'split-exact-p24': { integrity: 'exact', field: 'p24' },
  'split-float': { integrity: 'float' },
  accelerator: { integrity: 'off' },
};

export function remoteChoice(mode: RunMode): RemoteChoice | undefined {
  return CHOICES[mode];
}

/** The split modes (a trusted process with checked products on an accelerator). */
export function isSplitMode(mode: RunMode): boolean {
  const c = CHOICES[mode];
  return c !== undefined && c.integrity !== 'off';
}
