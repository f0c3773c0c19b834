// How the data owner decides whether to trust a trusted process before sending it anything: a DCAP quote
// is verified against collateral the owner supplies (certificate chain to the pinned Intel root, CRLs,
// TCB info, QE identity) and a policy (TCB statuses, no debug, the enclave's identity pinned), and its
// report_data must bind the channel key and the client's nonce. SIMULATED evidence (direct and
// gramine-direct launchers: no TEE) is refused unless allowSimulated is set, for development only.
import { TeeError } from '../errors.js';
import type { AttestPolicyInput } from '../secure/attest-policy.js';
import { verifyAttestation } from '../secure/attest-verify.js';
import { type DcapCollateral, readCollateralFile } from '../secure/dcap-collateral.js';
import type { AttestationVerifier } from '../secure/handshake.js';

export interface ClientAttestationOptions {
  /** Accept a SIMULATED attestation (no TEE, proves nothing). Default false. */
  readonly allowSimulated?: boolean;
  /** DCAP collateral (dcap-qvl JSON) to verify an SGX quote with. */
  readonly collateral?: string;
  /** 64 hex digits. An SGX quote is refused unless MRENCLAVE or MRSIGNER is pinned. */
  readonly mrEnclave?: string;
  readonly mrSigner?: string;
  readonly isvProdId?: number;
  readonly minIsvSvn?: number;
  /** TCB statuses to accept (default UpToDate only). */
  readonly allowedStatuses?: readonly string[];
  /** Accept a DEBUG enclave (its memory is readable by the host: never for real secrets). */
  readonly allowDebug?: boolean;
  /** Verify as of this time (default now). */
  readonly at?: Date;
}

/** The verifier the handshake calls for SGX evidence (E_ATTEST on every refusal). */
export function clientVerifier(o: ClientAttestationOptions): AttestationVerifier {
  let collateral: DcapCollateral | undefined;
  return (evidence, expectedReportData) => {
    if (o.collateral === undefined) {
      throw new TeeError(
        'E_ATTEST',
        'the enclave sent an SGX quote; verifying it needs --collateral FILE (DCAP collateral as JSON, see docs/attestation.md)',
      );
    }
    if (o.mrEnclave === undefined && o.mrSigner === undefined) {
      // A genuine quote from any enclave at all proves nothing about *which* code gets the data.
      throw new TeeError(
        'E_ATTEST',
        'refusing an SGX quote without an identity to check: give --mrenclave or --mrsigner',
      );
    }
    collateral ??= readCollateralFile(o.collateral);
    const policy: AttestPolicyInput = {
      ...(o.allowedStatuses ? { allowedStatuses: o.allowedStatuses } : {}),
      ...(o.allowDebug ? { allowDebug: true } : {}),
      ...(o.mrEnclave ? { mrEnclave: o.mrEnclave } : {}),
      ...(o.mrSigner ? { mrSigner: o.mrSigner } : {}),
      ...(o.isvProdId === undefined ? {} : { isvProdId: o.isvProdId }),
      ...(o.minIsvSvn === undefined ? {} : { minIsvSvn: o.minIsvSvn }),
      reportData: expectedReportData,
    };
    verifyAttestation(evidence, collateral, policy, o.at ? { at: o.at } : {});
  };
}
