import type { Addressing } from './load.ts';
import { startIoReceiver } from './receiver-io.ts';
import { startWsReceiver } from './receiver-ws.ts';
import type { Receiver } from './receiver.ts';
import { createRoom, createUser, type User } from './rest.ts';
import type { Tracker } from './tracker.ts';
import { ioTransport } from './transport-io.ts';
import { restTransport } from './transport-rest.ts';
import { wsTransport } from './transport-ws.ts';
import type { SendTransport } from './transport.ts';
import type { FaultContext } from './fault.ts';

/** Senders of each kind; each sends about five messages a second. */
const SENDERS = { rest: 3, ws: 2, io: 2 } as const;

export interface Population {
  receivers: Receiver[];
  senders: SendTransport[];
  addressing: Addressing;
  pausedUsers: FaultContext['pausedUsers'];
  /** Every user by label (`rws0`, `rio1`, `srest0`, …): webhooks are made for some of them. */
  users: ReadonlyMap<string, User>;
}

/** Runs `make` over `items`, `limit` at a time (registration hashes passwords: the API bounds that). */
async function inBatches<T, R>(items: T[], limit: number, make: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += limit) out.push(...(await Promise.all(items.slice(i, i + limit).map(make))));
  return out;
}

/**
 * Users, two rooms, receivers of both kinds and senders of all three kinds.
 * Rooms are made before anyone connects: a connection joins its rooms at the handshake.
 */
export async function populate(tracker: Tracker, receiversPerKind: number): Promise<Population> {
  const labels = [
    ...Array.from({ length: receiversPerKind }, (_, i) => `rws${i}`),
    // Every fourth Socket.IO receiver starts on long-polling and upgrades ("p").
    ...Array.from({ length: receiversPerKind }, (_, i) => `rio${i}${i % 4 === 0 ? 'p' : ''}`),
    ...Object.entries(SENDERS).flatMap(([kind, n]) => Array.from({ length: n }, (_, i) => `s${kind}${i}`)),
    'pausedws',
    'pausedio',
    'flooder',
  ];
  const users = new Map((await inBatches(labels, 4, async (label) => [label, await createUser(label)] as const)).map(([l, u]) => [l, u]));
  const user = (label: string) => users.get(label) as User;
  const receiverLabels = labels.filter((l) => l.startsWith('r'));
  const senderLabels = labels.filter((l) => l.startsWith('s'));

  // Room A: every other receiver; room B: every third. Every sender is in both.
  const roomsSpec = [
    { name: 'fault room A', members: receiverLabels.filter((_, i) => i % 2 === 0) },
    { name: 'fault room B', members: receiverLabels.filter((_, i) => i % 3 === 0) },
  ];
  const owner = user(senderLabels[0] as string);
  const rooms = await Promise.all(
    roomsSpec.map(async (spec) => ({
      id: await createRoom(owner, spec.name, [...senderLabels, ...spec.members].map(user)),
      audience: spec.members,
    })),
  );

  const receivers = receiverLabels.map((label) => {
    const u = user(label);
    tracker.addReceiver({ name: label, username: u.username, rooms: new Set(rooms.filter((r) => r.audience.includes(label)).map((r) => r.id)) });
    return label.startsWith('rws') ? startWsReceiver(label, u, tracker) : startIoReceiver(label, u, tracker, label.endsWith('p'));
  });
  const senders = senderLabels.map((label) => {
    const u = user(label);
    if (label.startsWith('sws')) return wsTransport(u);
    if (label.startsWith('sio')) return ioTransport(u);
    return restTransport(u);
  });
  return {
    receivers,
    senders,
    addressing: { receivers: receiverLabels.map((name) => ({ name, username: user(name).username, id: user(name).id })), rooms },
    pausedUsers: { ws: user('pausedws'), io: user('pausedio'), flooder: user('flooder') },
    users,
  };
}
