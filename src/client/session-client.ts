// The client's end of a session: typed messages over the attested channel. Every message from the trusted
// process is decoded and checked (session-codec.ts) like any other input; an `error` message becomes a
// TeeError with the code the trusted process gave (E_VERIFY, E_USAGE, …).
import { TeeError } from '../errors.js';
import { decodeEnclaveMessage, encodeSessionMessage } from '../protocol/session-codec.js';
import type { ClientMessage, EnclaveMessage } from '../protocol/session-messages.js';
import type { SecureChannel } from '../secure/channel.js';

/** How long to wait for the explanation (an `error` message) of a send that failed. */
const EXPLAIN_MS = 5_000;

export class SessionClient {
  constructor(readonly channel: SecureChannel) {}

  /** Sends a message; if the trusted process already hung up, throws the error it sent, if any. */
  async send(m: ClientMessage): Promise<void> {
    try {
      await this.channel.send(encodeSessionMessage(m));
    } catch (e) {
      throw await this.explain(e);
    }
  }

  /** The next message; an `error` message is thrown, the end of the channel is E_NETWORK. */
  async next(): Promise<Exclude<EnclaveMessage, { type: 'error' }>> {
    const raw = await this.channel.receive();
    if (raw === null)
      throw new TeeError('E_NETWORK', 'the trusted process ended the session without a result');
    const m = decodeEnclaveMessage(raw);
    if (m.type === 'error') throw new TeeError(m.code, m.message);
    return m;
  }

  async close(): Promise<void> {
    await this.channel.close();
  }

  private async explain(sendError: unknown): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(sendError), EXPLAIN_MS);
      });
      for (;;) await Promise.race([this.next(), timeout]);
    } catch (e) {
      return e instanceof TeeError && e.code !== 'E_NETWORK' ? e : sendError;
    } finally {
      clearTimeout(timer);
    }
  }
}
