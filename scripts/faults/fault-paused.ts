import type { ClusterLog, LogLine } from './cluster-log.ts';
import { seconds, type Fault, type FaultOutcome } from './fault.ts';
import { openPausedIo, openPausedWs, type PausedClient } from './paused-clients.ts';
import { postMessage, type User } from './rest.ts';

/** Characters of each flooding direct message; the suite's cluster allows this much (MESSAGE_MAX_LENGTH). */
export const FLOOD_MESSAGE_CHARS = 60_000;
/**
 * Past the end of the phase's load, how long a paused client may take to be
 * cut before that counts as a failure. Behind nginx the gateway sees a client
 * stall only once the kernel's and nginx's buffers on the way are full too:
 * about 13 MB per client here, on top of WEBSOCKET_MAX_BUFFERED_BYTES (4 MiB);
 * on a busy machine the flood takes a while to send that much.
 */
const CUT_GRACE_MS = 60_000;

const isCut = (userId: string) => (l: LogLine) =>
  l.name.startsWith('gateway') && l.line.includes('cut off a client too slow to read') && l.line.includes(userId);
const isDisconnect = (userId: string) => (l: LogLine) =>
  l.name.startsWith('gateway') && l.line.includes('"client disconnected"') && l.line.includes(userId);

/** Direct messages to the paused users only, so that their buffers fill while nobody else's traffic grows. */
async function flood(from: User, to: User[], stop: () => boolean): Promise<number> {
  let sent = 0;
  const filler = 'x'.repeat(FLOOD_MESSAGE_CHARS);
  await Promise.all(
    to.flatMap((user) =>
      [0, 1, 2].map(async () => {
        while (!stop()) {
          const attempt = await postMessage(
            from,
            { content: `flood:${crypto.randomUUID()}:${filler}`, recipient: user.username },
            crypto.randomUUID(),
            8_000,
          );
          if (attempt.ok) sent++;
          else await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }),
    ),
  );
  return sent;
}

async function cutOf(client: PausedClient, log: ClusterLog, from: number, deadline: number): Promise<{ note: string; failure?: string }> {
  const label = client.kind === 'ws' ? 'paused plain WebSocket' : 'paused Socket.IO client';
  const cut = await log.waitFor(from, deadline, isCut(client.user.id));
  if (cut) return { note: `${label} cut after ${seconds(cut.at - from)}` };
  const other = log.between(from, Date.now(), isDisconnect(client.user.id))[0];
  const how = other ? `disconnected otherwise after ${seconds(other.at - from)}: ${other.line}` : 'still connected';
  return { note: `${label} not cut for being slow (${how})`, failure: `${label} was not cut within ${seconds(deadline - from)}` };
}

/**
 * Fault 5: one client of each kind connects, then stops reading, while
 * direct messages to it pile up. The gateway must cut both; everyone else's
 * delivery (the load) must not suffer.
 */
export const pausedClients: Fault = {
  slug: 'paused-clients',
  name: 'paused non-reading clients',
  async inject(ctx, until): Promise<FaultOutcome> {
    const { ws: wsUser, io: ioUser, flooder } = ctx.pausedUsers;
    const clients = [await openPausedWs(wsUser), await openPausedIo(ioUser)];
    const from = Date.now();
    for (const client of clients) client.pause();
    let done = false;
    const flooding = flood(flooder, [wsUser, ioUser], () => done);
    const deadline = Math.max(until, from) + CUT_GRACE_MS;
    const results = await Promise.all(clients.map((client) => cutOf(client, ctx.log, from, deadline)));
    done = true;
    const flooded = await flooding;
    for (const client of clients) client.close();
    return {
      notes: [
        ...results.map((r) => r.note),
        `${flooded} direct messages of ${FLOOD_MESSAGE_CHARS / 1000}k characters to them (${Math.round((flooded * FLOOD_MESSAGE_CHARS) / 1e6)} MB)`,
      ],
      failures: results.flatMap((r) => (r.failure ? [r.failure] : [])),
    };
  },
};
