// One call for a client deciding whether to trust an enclave: DCAP-verify the quote against its
// collateral, then apply the policy. Returns the verdict only when both pass; otherwise throws
// AttestError (E_ATTEST, with a reason) or TeeError E_FORMAT for malformed input.
import {
  type AttestPolicy,
  type AttestPolicyInput,
  checkAttestPolicy,
  makeAttestPolicy,
} from './attest-policy.js';
import type { DcapCollateral } from './dcap-collateral.js';
import { type DcapVerdict, type DcapVerifyOptions, verifyDcapQuote } from './dcap-verify.js';
import type { Quote } from './quote.js';

export function verifyAttestation(
  quote: Uint8Array | Quote,
  collateral: DcapCollateral,
  policy: AttestPolicy | AttestPolicyInput = {},
  options: DcapVerifyOptions = {},
): DcapVerdict {
  const p = makeAttestPolicy(policy); // an AttestPolicy is a valid input too; this re-checks it
  const verdict = verifyDcapQuote(quote, collateral, options);
  checkAttestPolicy(verdict, p);
  return verdict;
}
