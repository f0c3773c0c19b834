import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { RECORD_OVERHEAD, type SecureChannel } from '../../src/secure/channel.js';
import { connectSecure, serverHandshake } from '../../src/secure/handshake.js';
import { simulatedAttestation } from '../../src/secure/handshake-attestation.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
after(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

type Direction = 'c2s' | 's2c';
/**
 * Decides what the man in the middle forwards for each frame: `index` counts frames per direction
 * from 0 (c2s: ClientHello, ClientKey, Finished, then data records 1, 2, …; s2c: ServerHello,
 * Finished, then data records 1, 2, …). Returns the frames (with length prefix) to send on.
 */
type Tamper = (dir: Direction, index: number, frame: Buffer) => Buffer[];

/** Splits a byte stream into length-prefixed frames. */
function framer(onFrame: (f: Buffer) => void): (d: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = 4 + buf.readUInt32BE(0);
      onFrame(Buffer.from(buf.subarray(0, n)));
      buf = buf.subarray(n);
    }
  };
}

async function listenOn(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

interface Pair {
  readonly client: SecureChannel;
  readonly server: SecureChannel;
  /** The proxy's two sockets, to inject raw bytes. */
  readonly toServer: Socket;
  readonly toClient: Socket;
}

/** client ⇄ proxy (tamper) ⇄ server, all on 127.0.0.1 port 0, handshake done. */
async function pair(tamper: Tamper = (_d, _i, f) => [f], maxRecordBytes?: number): Promise<Pair> {
  let serverSide!: Promise<SecureChannel>;
  const serverPort = await listenOn(
    createServer((s) => {
      sockets.push(s);
      serverSide = serverHandshake(s, {
        attestation: simulatedAttestation(),
        ...(maxRecordBytes ? { maxRecordBytes } : {}),
      });
      serverSide.catch(() => {});
    }),
  );
  let proxied!: { toServer: Socket; toClient: Socket };
  const proxyPort = await listenOn(
    createServer((fromClient) => {
      const up = connect({ host: '127.0.0.1', port: serverPort });
      sockets.push(up, fromClient);
      proxied = { toServer: up, toClient: fromClient };
      const counts = { c2s: 0, s2c: 0 };
      const pipe = (dir: Direction, from: Socket, to: Socket) => {
        from.on(
          'data',
          framer((f) => {
            for (const out of tamper(dir, counts[dir]++, f)) to.write(out);
          }),
        );
        from.on('end', () => to.end());
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
      };
      pipe('c2s', fromClient, up);
      pipe('s2c', up, fromClient);
    }),
  );
  const client = await connectSecure({
    host: '127.0.0.1',
    port: proxyPort,
    allowSimulated: true,
    ...(maxRecordBytes ? { maxRecordBytes } : {}),
  });
  const server = await serverSide;
  return { client, server, ...proxied };
}

function code(c: string, message?: string | RegExp) {
  return (e: unknown) => {
    assert.ok(isTeeError(e), `expected TeeError ${c}, got ${e}`);
    assert.equal(e.code, c, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

const msg = (i: number) => new Uint8Array(50).fill(i);
/** c2s frame index of data record n (1-based: record 0 is the client's Finished). */
const c2s = (n: number) => 2 + n;

describe('secure channel through an honest proxy', () => {
  test('messages arrive in order in both directions, interleaved and concurrent', async () => {
    const { client, server } = await pair();
    const sent = Array.from({ length: 50 }, (_, i) => msg(i));
    await Promise.all([...sent.map((m) => client.send(m)), ...sent.map((m) => server.send(m))]);
    const got = await Promise.all(sent.map(() => server.receive()));
    assert.deepEqual(got, sent);
    for (const m of sent) assert.deepEqual(await client.receive(), m);
    await client.close();
    await server.close();
    assert.equal(await server.receive(), null);
    assert.equal(await client.receive(), null);
  });

  test('async iteration yields messages until the peer closes', async () => {
    const { client, server } = await pair();
    for (let i = 0; i < 5; i++) await client.send(msg(i));
    await client.close();
    const got: Uint8Array[] = [];
    for await (const m of server) got.push(m);
    assert.equal(got.length, 5);
    await server.close();
  });

  test('a received message starts at offset 0 of its array (Float32Array views of it are aligned)', async () => {
    const { client, server } = await pair();
    const f = new Float32Array([1.5, -2, 3.25]);
    await client.send(new Uint8Array(f.buffer));
    const m = (await server.receive())!;
    assert.equal(m.byteOffset % 8, 0);
    assert.deepEqual(new Float32Array(m.buffer, m.byteOffset, m.byteLength / 4), f);
    client.destroy();
    server.destroy();
  });

  test('a large message (16 MiB) round-trips', async () => {
    const { client, server } = await pair();
    const big = new Uint8Array(randomBytes(16 * 1024 * 1024));
    await client.send(big);
    assert.deepEqual(await server.receive(), big);
    client.destroy();
    server.destroy();
  });

  test('sending after close is refused', async () => {
    const { client, server } = await pair();
    await client.close();
    await assert.rejects(client.send(msg(1)), code('E_NETWORK', 'the channel is closed for sending'));
    server.destroy();
  });
});

describe('tampering on the wire closes the channel with E_AUTH', () => {
  test('a flipped byte in a record', async () => {
    const { client, server } = await pair((dir, i, f) => {
      if (dir === 'c2s' && i === c2s(2)) f[f.length - 20]! ^= 0x10;
      return [f];
    });
    await client.send(msg(1));
    await client.send(msg(2));
    assert.deepEqual(await server.receive(), msg(1));
    await assert.rejects(
      server.receive(),
      code('E_AUTH', 'record 2 failed authentication (modified in transit, or not from the peer)'),
    );
    // The channel is closed for good: every later call fails with the same error …
    await assert.rejects(server.receive(), code('E_AUTH'));
    await assert.rejects(server.send(msg(3)), code('E_AUTH'));
    // … and the peer sees the connection go.
    await assert.rejects(client.receive(), code('E_NETWORK'));
  });

  test('a flipped bit in the counter field', async () => {
    const { client, server } = await pair((dir, i, f) => {
      if (dir === 'c2s' && i === c2s(1)) f[4 + 7]! ^= 0x01; // counter 1 → 0
      return [f];
    });
    await client.send(msg(1));
    await assert.rejects(
      server.receive(),
      code('E_AUTH', 'record 0 was replayed or reordered (expected record 1)'),
    );
  });

  test('a replayed record', async () => {
    const { client, server } = await pair((dir, i, f) => (dir === 'c2s' && i === c2s(2) ? [f, f] : [f]));
    await client.send(msg(1));
    await client.send(msg(2));
    await client.send(msg(3));
    assert.deepEqual(await server.receive(), msg(1));
    assert.deepEqual(await server.receive(), msg(2));
    await assert.rejects(
      server.receive(),
      code('E_AUTH', 'record 2 was replayed or reordered (expected record 3)'),
    );
  });

  test('a replayed record relabelled with the expected counter', async () => {
    let kept: Buffer | undefined;
    const { client, server } = await pair((dir, i, f) => {
      if (dir !== 'c2s') return [f];
      if (i === c2s(1)) kept = Buffer.from(f);
      if (i === c2s(2)) {
        const forged = Buffer.from(kept!);
        forged.writeBigUInt64BE(2n, 4);
        return [forged];
      }
      return [f];
    });
    await client.send(msg(1));
    await client.send(msg(2));
    assert.deepEqual(await server.receive(), msg(1));
    await assert.rejects(server.receive(), code('E_AUTH', /^record 2 failed authentication/));
  });

  test('reordered records', async () => {
    let held: Buffer | undefined;
    const { client, server } = await pair((dir, i, f) => {
      if (dir === 'c2s' && i === c2s(1)) {
        held = f;
        return [];
      }
      if (dir === 'c2s' && i === c2s(2)) return [f, held!];
      return [f];
    });
    await client.send(msg(1));
    await client.send(msg(2));
    await assert.rejects(
      server.receive(),
      code('E_AUTH', 'record 2 arrived where record 1 was expected (records were dropped or reordered)'),
    );
  });

  test('a dropped record', async () => {
    const { client, server } = await pair((dir, i, f) => (dir === 's2c' && i === 2 ? [] : [f]));
    await server.send(msg(1));
    await server.send(msg(2));
    await assert.rejects(
      client.receive(),
      code('E_AUTH', 'record 2 arrived where record 1 was expected (records were dropped or reordered)'),
    );
  });

  test("a record reflected back to its sender (it was sealed with the other direction's key)", async () => {
    let reflected: Buffer | undefined;
    const { client, server, toClient } = await pair((dir, i, f) => {
      if (dir === 'c2s' && i === c2s(1)) reflected = Buffer.from(f);
      return [f];
    });
    await client.send(msg(1));
    assert.deepEqual(await server.receive(), msg(1));
    toClient.write(reflected!); // counter 1, as the client expects from the server
    await assert.rejects(client.receive(), code('E_AUTH', /^record 1 failed authentication/));
    server.destroy();
  });

  test('the connection cut without a close record is E_NETWORK, not a clean end', async () => {
    const { client, server, toServer } = await pair();
    await client.send(msg(1));
    assert.deepEqual(await server.receive(), msg(1));
    toServer.end();
    await assert.rejects(
      server.receive(),
      code(
        'E_NETWORK',
        'the peer ended the connection without an authenticated close (records may have been dropped)',
      ),
    );
    client.destroy();
  });
});

describe('frame limits', () => {
  test('an oversized length is E_FRAME as soon as the 4 length bytes arrive (nothing allocated)', async () => {
    const { client, server, toServer } = await pair(undefined, 1000);
    // Only the length prefix is sent: the receiver must fail without waiting for (or allocating) the body.
    toServer.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await assert.rejects(
      server.receive(),
      code('E_FRAME', `frame of 2147483647 bytes exceeds the limit of ${1000 + RECORD_OVERHEAD} bytes`),
    );
    client.destroy();
  });

  test('one byte over the record limit is E_FRAME; exactly the limit is accepted', async () => {
    const { client, server, toServer } = await pair(undefined, 1000);
    await client.send(new Uint8Array(1000));
    assert.equal((await server.receive())!.length, 1000);
    const over = Buffer.alloc(4 + 1000 + RECORD_OVERHEAD + 1);
    over.writeUInt32BE(1000 + RECORD_OVERHEAD + 1);
    toServer.write(over);
    await assert.rejects(
      server.receive(),
      code('E_FRAME', /^frame of 1026 bytes exceeds the limit of 1025 bytes$/),
    );
    client.destroy();
  });

  test('a record too short to hold a counter and a tag is E_AUTH', async () => {
    const { client, server, toServer } = await pair();
    toServer.write(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
    await assert.rejects(
      server.receive(),
      code('E_AUTH', 'record of 3 bytes is shorter than the 25-byte minimum'),
    );
    client.destroy();
  });
});
