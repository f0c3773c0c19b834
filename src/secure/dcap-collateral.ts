// The collateral a DCAP quote is verified with, in the JSON shape of dcap-qvl's QuoteCollateralV3
// (what its `get_collateral` returns from a PCCS or Intel PCS): CRLs as hex DER, issuer chains as PEM,
// TCB info and QE identity as the exact JSON text Intel signed, signatures as 64 bytes of hex (r ‖ s).
// Parsing here is structural only; dcap-verify.ts checks every signature before using a value.
import { readFileSync } from 'node:fs';
import { TeeError } from '../errors.js';
import {
  asObject,
  getHex,
  getOptionalString,
  getString,
  type JsonObject,
  parseJsonObject,
} from './dcap-json.js';
import { type Certificate, parsePemChain } from './x509-certificate.js';
import { type Crl, decodeCrlText, parseCrl } from './x509-crl.js';

export interface DcapCollateral {
  readonly pckCrlIssuerChain: readonly Certificate[];
  readonly rootCaCrl: Crl;
  readonly pckCrl: Crl;
  readonly tcbInfoIssuerChain: readonly Certificate[];
  /** The TCB info JSON exactly as signed (its signature covers these UTF-8 bytes). */
  readonly tcbInfoText: string;
  readonly tcbInfoSignature: Uint8Array;
  readonly qeIdentityIssuerChain: readonly Certificate[];
  readonly qeIdentityText: string;
  readonly qeIdentitySignature: Uint8Array;
}

/** Largest collateral file read (the CRLs dominate; Intel's are well under this). */
export const MAX_COLLATERAL_BYTES = 16 * 1024 * 1024;

/** Parses collateral from its JSON object (already decoded) or text. */
export function parseCollateral(input: string | unknown): DcapCollateral {
  const o: JsonObject =
    typeof input === 'string' ? parseJsonObject(input, 'collateral') : asObject(input, 'collateral');
  const p = 'collateral';
  // dcap-qvl lets collateral carry the PCK chain for quotes without one (cert data types 1–4); this
  // verifier reads it only from the quote (type 5), so a chain here would be silently ignored.
  if (getOptionalString(o, 'pck_certificate_chain', p) !== undefined) {
    throw new TeeError(
      'E_FORMAT',
      'collateral.pck_certificate_chain: not supported (the PCK chain is read from the quote)',
    );
  }
  // Intel's TCB info / QE identity endpoints return {"tcbInfo": {...}, "signature": ...}; the
  // collateral keeps only the signed body text, so an object here would lose the exact bytes.
  return {
    pckCrlIssuerChain: parsePemChain(getString(o, 'pck_crl_issuer_chain', p), 'PCK CRL issuer chain'),
    rootCaCrl: parseCrl(decodeCrlText(getString(o, 'root_ca_crl', p), 'root CA CRL'), 'root CA CRL'),
    pckCrl: parseCrl(decodeCrlText(getString(o, 'pck_crl', p), 'PCK CRL'), 'PCK CRL'),
    tcbInfoIssuerChain: parsePemChain(getString(o, 'tcb_info_issuer_chain', p), 'TCB info issuer chain'),
    tcbInfoText: getString(o, 'tcb_info', p),
    tcbInfoSignature: getHex(o, 'tcb_info_signature', p, 64),
    qeIdentityIssuerChain: parsePemChain(
      getString(o, 'qe_identity_issuer_chain', p),
      'QE identity issuer chain',
    ),
    qeIdentityText: getString(o, 'qe_identity', p),
    qeIdentitySignature: getHex(o, 'qe_identity_signature', p, 64),
  };
}

export function readCollateralFile(path: string): DcapCollateral {
  let text: string;
  try {
    const b = readFileSync(path);
    if (b.byteLength > MAX_COLLATERAL_BYTES) {
      throw new TeeError('E_FORMAT', `${path}: ${b.byteLength} bytes is larger than any collateral`);
    }
    text = b.toString('utf8');
  } catch (e) {
    if (e instanceof TeeError) throw e;
    throw new TeeError('E_IO', `cannot read collateral ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseCollateral(text);
}
