// The one trust anchor of DCAP verification: Intel's SGX Root CA ("CN=Intel SGX Root CA, O=Intel
// Corporation", valid 2018-05-21 … 2049-12-31, P-256). Chains in quotes and collateral carry a copy
// of it; a copy is trusted only if its DER hashes to this pinned SHA-256 fingerprint, which is
// published by Intel (https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem).

/** SHA-256 of the Intel SGX Root CA certificate's DER. */
export const INTEL_SGX_ROOT_CA_FINGERPRINT =
  '44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3';

/** Its public key (uncompressed P-256 point, hex), for readers who compare keys rather than certificates. */
export const INTEL_SGX_ROOT_CA_PUBLIC_KEY =
  '040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394';
