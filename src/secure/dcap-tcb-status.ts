// TCB statuses of Intel's TCB info and QE identity, and how the platform's status and the quoting
// enclave's combine into the quote's (Intel DCAP QVL's rule: an out-of-date QE makes the platform
// out of date, keeping "configuration needed"; a revoked QE makes it revoked).

export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

export type TcbStatus = (typeof TCB_STATUSES)[number];

export function isTcbStatus(s: string): s is TcbStatus {
  return (TCB_STATUSES as readonly string[]).includes(s);
}

export interface TcbResult {
  readonly status: TcbStatus;
  readonly advisoryIds: readonly string[];
  /** The matched level's tcbDate (ISO). */
  readonly tcbDate: string;
}

/** The quote's TCB status from the platform's (TCB info) and the QE's (QE identity). */
export function combineTcbStatus(
  platform: TcbResult,
  qe: TcbResult,
): { status: TcbStatus; advisoryIds: string[] } {
  let status: TcbStatus = platform.status;
  if (qe.status === 'Revoked') status = 'Revoked';
  else if (qe.status === 'OutOfDate') {
    if (platform.status === 'UpToDate' || platform.status === 'SWHardeningNeeded') status = 'OutOfDate';
    else if (
      platform.status === 'ConfigurationNeeded' ||
      platform.status === 'ConfigurationAndSWHardeningNeeded'
    ) {
      status = 'OutOfDateConfigurationNeeded';
    }
  }
  const advisoryIds = [...platform.advisoryIds];
  for (const id of qe.advisoryIds) if (!advisoryIds.includes(id)) advisoryIds.push(id);
  return { status, advisoryIds };
}
