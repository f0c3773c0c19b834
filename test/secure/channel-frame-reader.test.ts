// FrameReader's back-pressure: a peer that keeps sending while nothing reads (a queued session) makes the
// reader pause its socket once two of the largest frames wait unread, not once 32 frames do (32 records of
// 8 MiB per queued session had put 2 GiB in the trusted process); reading them resumes it.
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { FrameReader } from '../../src/secure/channel-frame-reader.js';

function frame(n: number): Buffer {
  const b = Buffer.alloc(4 + n, 7);
  b.writeUInt32BE(n, 0);
  return b;
}

test('pauses reading once two of the largest frames wait unread, resumes as they are read', async () => {
  let serverSide: Socket | undefined;
  const server = createServer((s) => {
    serverSide = s;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client = connect({ host: '127.0.0.1', port });
  await new Promise((r) => client.once('connect', r));
  while (serverSide === undefined) await new Promise((r) => setTimeout(r, 5));
  try {
    const reader = new FrameReader(serverSide, 64 << 10);
    // Ten 60 KiB frames (the limit is 64 KiB): far fewer than 32, far more than two frames' bytes.
    for (let i = 0; i < 10; i++) client.write(frame(60 << 10));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(serverSide.isPaused(), true, 'paused with frames waiting unread');
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push((await reader.next())!.length);
    assert.deepEqual(got, new Array(10).fill(60 << 10), 'every frame arrives once read');
    assert.equal(serverSide.isPaused(), false);
  } finally {
    client.destroy();
    serverSide.destroy();
    await new Promise((r) => server.close(r));
  }
});
