// `tee-offload accelerator`: runs the untrusted accelerator server until SIGINT/SIGTERM (docs/protocol.md).
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { GpuKind, GpuSpec } from '../../accelerator/gpu-linear.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_REQUEST_MACS,
  DEFAULT_MIN_PAYLOAD_RATE,
  startAcceleratorServer,
} from '../../accelerator/server.js';
import { TeeError } from '../../errors.js';
import { formatAddress, parseAddress } from '../../protocol/address.js';
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT, PROTOCOL_VERSION } from '../../protocol/limits.js';
import { DEFAULT_CACHE_BYTES } from '../../protocol/operand-cache.js';
import { type Command, UsageError } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';
import { untilStopped } from '../until-stopped.js';

const UNITS: Record<string, number> = {
  '': 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** A byte count: an integer with an optional binary unit (K, M, G, KiB, MiB, GiB; 1K = 1024). */
export function bytesFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min = 1024,
  max = MAX_FRAME_BYTES_LIMIT,
): number {
  if (value === undefined) return fallback;
  const m = /^(\d+)\s*([kmg](?:ib)?)?$/i.exec(value.trim());
  const n = m === null ? Number.NaN : Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a byte count in [${min}, ${max}] (e.g. 256M), got '${value}'`);
  }
  return n;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read the TLS ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** OpenSSL's message, on one line, without its "error:0480006C:PEM routines::" prefix. */
function opensslReason(e: unknown): string {
  const m = (e as Error).message.replace(/\s+/g, ' ').trim();
  return /^error:[0-9A-Fa-f]+:[^:]*:[^:]*:(.+)$/.exec(m)?.[1] ?? m;
}

/**
 * The --tls-cert/--tls-key pair, checked before anything starts (OpenSSL would otherwise throw from
 * inside the server). A file that is not PEM of its kind is E_FORMAT; two good files given the wrong
 * way (swapped, or a key that is not the certificate's) are E_USAGE: the command line is what is wrong.
 */
function checkTlsPair(certPath: string, cert: Buffer, keyPath: string, key: Buffer): void {
  const certText = cert.toString('latin1');
  const keyText = key.toString('latin1');
  const isCert = (t: string) => t.includes('-----BEGIN CERTIFICATE-----');
  const isKey = (t: string) => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(t);
  if (!isCert(certText) && isKey(certText) && isCert(keyText)) {
    throw new UsageError(
      `--tls-cert and --tls-key are swapped: ${certPath} holds a private key and ${keyPath} a certificate`,
    );
  }
  if (!isCert(certText)) {
    if (isKey(certText))
      throw new UsageError(
        `--tls-cert ${certPath} holds a private key, not a certificate (give it as --tls-key)`,
      );
    throw new TeeError(
      'E_FORMAT',
      `--tls-cert ${certPath} is not a PEM certificate (no BEGIN CERTIFICATE line)`,
    );
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new TeeError(
      'E_FORMAT',
      `--tls-cert ${certPath} is not a valid PEM certificate: ${opensslReason(e)}`,
      { cause: e },
    );
  }
  if (!isKey(keyText)) {
    if (isCert(keyText)) throw new UsageError(`--tls-key ${keyPath} holds a certificate, not a private key`);
    throw new TeeError(
      'E_FORMAT',
      `--tls-key ${keyPath} is not a PEM private key (no BEGIN PRIVATE KEY line)`,
    );
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText)) {
    throw new TeeError(
      'E_FORMAT',
      `--tls-key ${keyPath} is encrypted with a passphrase, which the accelerator does not take (decrypt it: openssl pkey -in KEY.pem -out PLAIN.pem)`,
    );
  }
  let pkey: KeyObject;
  try {
    pkey = createPrivateKey(key);
  } catch (e) {
    throw new TeeError(
      'E_FORMAT',
      `--tls-key ${keyPath} is not a valid PEM private key: ${opensslReason(e)}`,
      { cause: e },
    );
  }
  if (!x509.checkPrivateKey(pkey)) {
    throw new UsageError(
      `--tls-key ${keyPath} is not the private key of --tls-cert ${certPath} (their public keys differ)`,
    );
  }
  try {
    // What the server will do with them (the rest of a chain, a key TLS cannot use), done now.
    createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (e) {
    throw new TeeError(
      'E_FORMAT',
      `TLS refused --tls-cert ${certPath} with --tls-key ${keyPath}: ${opensslReason(e)}`,
      { cause: e },
    );
  }
}

export const acceleratorCommand: Command = {
  name: 'accelerator',
  summary: 'run the untrusted accelerator server that computes linear products for split mode',
  help: `usage: tee-offload accelerator [--listen HOST:PORT] [--threads T] [--max-frame-bytes B]
                             [--cache-bytes B] [--max-connections N] [--min-rate B]
                             [--max-request-macs M]
                             [--tls-cert CERT.pem --tls-key KEY.pem]
                             [--backend cpu|cuda|emulated] [--cuda-libs DIR[:DIR...]]

Serves the six linear products (dense, conv2d and their gradients) in float32, exactly modulo
p = 2^24 - 3, and as exact integer products (the wide field) to trusted processes (tee-offload train/infer --mode split --accelerator ...),
over the binary protocol of docs/protocol.md. Everything it receives is treated as hostile: a
malformed frame closes that connection only. Runs until SIGINT or SIGTERM (or, when its parent
started it with an IPC channel, until that parent is gone); one log line per connection on stderr.

The accelerator is untrusted by design: every product it returns is checked by the trusted side.
It sees the operands it is sent — one-time-padded activations in blinded inference, otherwise the
activations, weights and gradients themselves (quantized in exact mode, float32 in float mode; see
the README's privacy table). TLS only keeps third parties off the wire.

options:
  --listen HOST:PORT   address to listen on (default 127.0.0.1:7070; port 0 picks a free one;
                       IPv6 as [::1]:7070). Listen on 0.0.0.0 only on a private network.
  --threads T          kernel threads per product (default: all cores)
  --max-frame-bytes B  largest request accepted, with K/M/G suffixes (default 1G); a larger frame
                       closes its connection (E_FRAME)
  --cache-bytes B      operand cache per connection (weights kept between a layer's products),
                       whole MiB (default 1G; 0: none)
  --max-connections N  open connections at most; one more is closed at once, logged (default 64)
  --max-request-macs M largest product accepted, in multiply-adds (default 2^42 ≈ 4.4e12); larger
                       closes the connection (E_FRAME)
  --min-rate B         slowest a request's payload may arrive once admitted, bytes per second with
                       K/M/G suffixes, over 10 s windows (default 1M; 0: no minimum); slower closes
                       the connection (E_FRAME), so that trickled frames cannot hold the memory
                       budget every client shares
  --tls-cert CERT.pem  serve TLS with this PEM certificate chain (needs --tls-key); clients connect
                       with --accelerator-ca CERT.pem (or --accelerator-tls for a CA-signed one)
  --tls-key KEY.pem    the unencrypted PEM private key of --tls-cert
  --backend B          where the products run: cpu (default: the native CPU kernels), cuda (the
                       first CUDA GPU: cuBLAS GEMMs and NVRTC-compiled kernels, float32 products in
                       true float32 and exact ones in float64, bit for bit the CPU's results), or
                       emulated (the GPU backend's code on the CPU, single-threaded and slow: for
                       testing that code path where there is no GPU)
  --cuda-libs DIRS     colon-separated folders holding libcuda, libnvrtc and libcublas, searched
                       before the dynamic loader's path (default: $TEE_OFFLOAD_CUDA_LIBS)`,
  async run(argv) {
    const { values: v } = parseFlags(argv, {
      listen: { type: 'string' },
      threads: { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'cache-bytes': { type: 'string' },
      'max-connections': { type: 'string' },
      'min-rate': { type: 'string' },
      'max-request-macs': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      compute: { type: 'string' },
      backend: { type: 'string' },
      'cuda-libs': { type: 'string' },
    });
    const str = (k: string) => v[k] as string | undefined;
    let address: ReturnType<typeof parseAddress>;
    try {
      address = parseAddress(str('listen') ?? '127.0.0.1:7070', true);
    } catch (e) {
      throw new UsageError(`--listen: ${(e as Error).message}`);
    }
    const threads = str('threads') === undefined ? undefined : intFlag(str('threads'), 'threads', 1);
    const maxFrameBytes = bytesFlag(str('max-frame-bytes'), 'max-frame-bytes', DEFAULT_MAX_FRAME_BYTES);
    const cacheBytes = bytesFlag(str('cache-bytes'), 'cache-bytes', DEFAULT_CACHE_BYTES, 0, 2 ** 42);
    const maxConnections = intFlag(str('max-connections'), 'max-connections', DEFAULT_MAX_CONNECTIONS);
    const minPayloadRate = bytesFlag(str('min-rate'), 'min-rate', DEFAULT_MIN_PAYLOAD_RATE, 0, 2 ** 40);
    const macsFlag = str('max-request-macs');
    const maxRequestMacs = macsFlag === undefined ? DEFAULT_MAX_REQUEST_MACS : Number(macsFlag);
    if (!(Number.isFinite(maxRequestMacs) && maxRequestMacs >= 1))
      throw new UsageError(`--max-request-macs must be a number >= 1 (e.g. 1e12), got '${macsFlag}'`);
    const cert = str('tls-cert');
    const key = str('tls-key');
    if ((cert === undefined) !== (key === undefined))
      throw new UsageError('--tls-cert and --tls-key go together');
    const compute = str('compute') ?? 'worker';
    if (compute !== 'worker' && compute !== 'inline') {
      throw new UsageError(`--compute must be worker or inline, got '${compute}'`);
    }
    const backend = str('backend') ?? 'cpu';
    if (backend !== 'cpu' && backend !== 'cuda' && backend !== 'emulated') {
      throw new UsageError(`--backend must be cpu, cuda or emulated, got '${backend}'`);
    }
    const libs = str('cuda-libs') ?? process.env.TEE_OFFLOAD_CUDA_LIBS;
    if (libs !== undefined && backend !== 'cuda' && str('cuda-libs') !== undefined) {
      throw new UsageError('--cuda-libs needs --backend cuda');
    }
    const gpu: GpuSpec | undefined =
      backend === 'cpu'
        ? undefined
        : { kind: backend as GpuKind, ...(libs ? { libDirs: libs.split(':').filter((d) => d !== '') } : {}) };
    const tls =
      cert !== undefined && key !== undefined
        ? { cert: readPem(cert, 'certificate'), key: readPem(key, 'key') }
        : undefined;
    if (tls !== undefined) checkTlsPair(cert!, tls.cert, key!, tls.key);
    const server = await startAcceleratorServer({
      host: address.host,
      port: address.port,
      maxFrameBytes,
      cacheBytes,
      maxConnections,
      minPayloadRate,
      maxRequestMacs,
      compute,
      ...(gpu !== undefined ? { gpu } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(tls !== undefined ? { tls } : {}),
    });
    const bound = server.address();
    console.log(
      `accelerator listening on ${formatAddress({ host: bound.address, port: bound.port })} ` +
        `(protocol ${PROTOCOL_VERSION}, ${tls ? 'TLS' : 'plain TCP'}, max frame ${maxFrameBytes} bytes, ` +
        `threads ${threads ?? 'all'}, compute on ${compute === 'worker' ? 'a worker thread' : 'the main thread'}, ` +
        `products on ${server.gpu === null ? 'the CPU' : `${server.gpu.name} (${server.gpu.kind}${server.gpu.kind === 'cuda' ? `, sm ${server.gpu.computeCapability}, ${(server.gpu.memoryBytes / 2 ** 30).toFixed(0)} GiB` : ''})`})`,
    );
    const signal = await untilStopped();
    await server.close();
    const s = server.stats();
    console.log(`accelerator stopped (${signal}): ${s.connections} connections, ${s.ops} ops served`);
    return 0;
  },
};
