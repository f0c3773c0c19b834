// Shared by the accelerator tests: a server on 127.0.0.1 port 0 that records its log lines, and a raw
// socket that speaks the protocol by hand (to send what a well-behaved client never would).
import { connect, type Socket } from 'node:net';
import { AcceleratorServer, type AcceleratorServerOptions } from '../../src/accelerator/server.js';
import { encodeHello, type FrameHeader } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { MAX_DIM, MAX_RANK, PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { type DecodedError, decodeError } from '../../src/protocol/linear-codec.js';

export interface TestServer {
  readonly server: AcceleratorServer;
  readonly address: string;
  readonly port: number;
  readonly logs: string[];
}

export async function startServer(opts: AcceleratorServerOptions = {}): Promise<TestServer> {
  const logs: string[] = [];
  const server = new AcceleratorServer({ log: (l) => logs.push(l), ...opts });
  const a = await server.listen(0, '127.0.0.1');
  return { server, address: `127.0.0.1:${a.port}`, port: a.port, logs };
}

export const CLIENT_HELLO = encodeHello({
  version: PROTOCOL_VERSION,
  role: 'client',
  maxFrameBytes: 1 << 30,
  maxRank: MAX_RANK,
  maxDim: MAX_DIM,
  capabilities: 0,
});

export interface RawOutcome {
  /** Frames received after the accelerator's hello (headers + decoded error frames). */
  readonly frames: (FrameHeader & { error?: DecodedError })[];
  /** True when the accelerator closed the connection. */
  readonly closed: boolean;
}

/** Connects, writes `bytes` (the caller includes a hello or not), and collects replies until close or timeout. */
export function rawExchange(port: number, bytes: Buffer, waitMs = 3000): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    const d = new FrameDecoder({ maxPayloadBytes: 1 << 30, helloFrom: 'accelerator' });
    const frames: RawOutcome['frames'] = [];
    let helloSeen = false;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ frames, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => {
      d.push(c);
      if (!helloSeen) helloSeen = d.hello() !== null;
      if (!helloSeen) return;
      for (let f = d.next(); f !== null; f = d.next()) {
        frames.push({
          type: f.type,
          id: f.id,
          length: f.length,
          ...(f.type === 3 ? { error: decodeError(f.payload) } : {}),
        });
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => done(true));
  });
}
