// Evidence sources for the handshake's server side. Under gramine-sgx, a DCAP quote from Gramine's
// /dev/attestation pseudo-files (write the 64-byte report_data to user_report_data, read quote).
// Under `direct`/`gramine-direct` there is no TEE: a record labelled SIMULATED that carries the
// report_data and proves nothing; clients refuse it unless told to accept it (allowSimulated).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TeeError } from '../errors.js';
import type { AttestationProvider } from './handshake.js';
import { asBytes } from './keys.js';

/** The first bytes of a simulated attestation record, in plain ASCII so that nobody mistakes it. */
export const SIMULATED_EVIDENCE_LABEL =
  'SIMULATED tee-offload/v1 attestation: no TEE, no hardware signature, proves nothing\n';
const LABEL_BYTES = new TextEncoder().encode(SIMULATED_EVIDENCE_LABEL);
const REPORT_DATA_BYTES = 64;

function checkReportData(reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array) || reportData.byteLength !== REPORT_DATA_BYTES) {
    throw new RangeError(`report_data must be ${REPORT_DATA_BYTES} bytes`);
  }
}

/** Evidence for `direct` and `gramine-direct`: SIMULATED_EVIDENCE_LABEL ‖ report_data[64]. */
export function simulatedAttestation(): AttestationProvider {
  return {
    kind: 'simulated',
    async quote(reportData) {
      checkReportData(reportData);
      const out = new Uint8Array(LABEL_BYTES.length + REPORT_DATA_BYTES);
      out.set(LABEL_BYTES, 0);
      out.set(reportData, LABEL_BYTES.length);
      return out;
    },
  };
}

/** The report_data of a simulated record (E_ATTEST when it is not one). */
export function parseSimulatedEvidence(evidence: Uint8Array): Uint8Array {
  if (
    evidence.byteLength !== LABEL_BYTES.length + REPORT_DATA_BYTES ||
    LABEL_BYTES.some((c, i) => evidence[i] !== c)
  ) {
    throw new TeeError('E_ATTEST', 'malformed SIMULATED attestation record');
  }
  return evidence.subarray(LABEL_BYTES.length);
}

/**
 * Evidence under gramine-sgx: Gramine's attestation pseudo-files (`root` is /dev/attestation inside
 * the enclave; another directory only in tests). Needs `sgx.remote_attestation = "dcap"` in the
 * manifest. Quotes are taken one at a time: writing user_report_data and reading quote is not atomic.
 */
export function gramineAttestation(root = '/dev/attestation'): AttestationProvider {
  let queue: Promise<unknown> = Promise.resolve();
  const quoteOnce = async (reportData: Uint8Array): Promise<Uint8Array> => {
    let type: string;
    try {
      type = (await readFile(join(root, 'attestation_type'), 'utf8')).trim();
    } catch (e) {
      throw new TeeError(
        'E_ATTEST',
        `no Gramine attestation interface at ${root} (not running under gramine-sgx?)`,
        {
          cause: e,
        },
      );
    }
    if (type !== 'dcap') {
      throw new TeeError('E_ATTEST', `Gramine attestation type is '${type}'; tee-offload needs 'dcap'`);
    }
    try {
      await writeFile(join(root, 'user_report_data'), reportData);
      const quote = asBytes(await readFile(join(root, 'quote')));
      if (quote.byteLength === 0) throw new Error('empty quote');
      return quote;
    } catch (e) {
      throw new TeeError('E_ATTEST', `Gramine could not produce a quote: ${(e as Error).message}`, {
        cause: e,
      });
    }
  };
  return {
    kind: 'sgx',
    quote(reportData) {
      checkReportData(reportData);
      const q = queue.then(() => quoteOnce(reportData));
      queue = q.catch(() => {});
      return q;
    },
  };
}
