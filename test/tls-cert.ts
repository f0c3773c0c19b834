// A throw-away self-signed certificate for 127.0.0.1 and localhost (EC P-256, two days), made by the
// openssl command line for the TLS tests; null where openssl is missing or fails (the tests then skip).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CertFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function makeSelfSignedCert(certPath: string, keyPath: string): CertFiles | null {
  let status: number | null;
  try {
    status = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    ).status;
  } catch {
    return null;
  }
  if (status !== 0) return null;
  return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
