import type { Attempt, ChangeRequest, MessageBody, User } from './rest.ts';
import type { SenderKind } from './tracker.ts';

/** One way of sending a message; `send` is one attempt, answered or failed within the ack timeout. */
export interface SendTransport {
  kind: SenderKind;
  /** Who sends: read marks go over REST as this user. */
  user: User;
  send(body: MessageBody, key: string): Promise<Attempt>;
  /** One attempt of a change of an acknowledged message, answered with the message's id. */
  change(change: ChangeRequest, key: string): Promise<Attempt>;
  close(): void;
}

/** Long enough for a send held up by a PostgreSQL statement timeout (5 s) to be answered. */
export const ACK_TIMEOUT_MS = 8_000;

/** Resolves true once `ready()` holds, false after `timeoutMs`. */
export async function until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
