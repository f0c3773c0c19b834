// Streams an http(s) URL to a file while hashing it (MD5, the checksum CIFAR-10 publishes), following
// up to 5 redirects. Any network failure, non-200 status or stalled connection rejects with a plain
// Error whose message says why; the caller wraps it with what to do.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

export interface DownloadResult {
  readonly bytes: number;
  readonly md5: string;
}

function request(url: URL, timeoutMs: number): Promise<http.IncomingMessage> {
  const get = url.protocol === 'https:' ? https.get : url.protocol === 'http:' ? http.get : undefined;
  if (get === undefined) return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Downloads `url` into `path` (created or truncated); rejects on any failure. */
export async function downloadFile(url: string, path: string, timeoutMs: number): Promise<DownloadResult> {
  let target = new URL(url);
  let res: http.IncomingMessage | undefined;
  for (let hop = 0; ; hop++) {
    res = await request(target, timeoutMs);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location !== undefined) {
      res.resume();
      if (hop === 5) throw new Error('too many redirects');
      target = new URL(res.headers.location, target);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new Error(`HTTP ${status} ${res.statusMessage ?? ''}`.trim());
    }
    break;
  }
  const hash = createHash('md5');
  const out = createWriteStream(path);
  let bytes = 0;
  try {
    res.setTimeout(timeoutMs, () => res.destroy(new Error(`transfer stalled for ${timeoutMs} ms`)));
    for await (const chunk of res as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
    }
    const expected = Number(res.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(expected) && expected !== bytes) {
      throw new Error(`connection closed after ${bytes} of ${expected} bytes`);
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { bytes, md5: hash.digest('hex') };
}
