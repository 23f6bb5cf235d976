import { io } from 'socket.io-client';
import { BASE, type Attempt, type ChangeRequest, type User } from './rest.ts';
import { backoff } from './receiver.ts';
import { ACK_TIMEOUT_MS, until, type SendTransport } from './transport.ts';

type Ack = { ok: true; message: { id: string } } | { ok: false; code?: string };

/** Socket.IO `emit('message', {..., client_msg_id}, ack)`. */
export function ioTransport(user: User): SendTransport {
  let closed = false;
  let failures = 0;
  const socket = io(BASE, {
    auth: { token: user.token },
    query: { client_id: crypto.randomUUID() },
    transports: ['websocket'],
    reconnectionDelay: 100,
    reconnectionDelayMax: 2_000,
    forceNew: true,
  });
  // A refusal by the server is not retried by Socket.IO itself.
  const retry = () => {
    if (!closed && !socket.active) setTimeout(() => socket.connect(), backoff(failures++));
  };
  socket.on('connect', () => {
    failures = 0;
  });
  socket.on('connect_error', retry);
  socket.on('disconnect', retry);

  /** One emit carrying `key`, answered by its acknowledgement. */
  async function command(event: string, body: Record<string, unknown>, key: string): Promise<Attempt> {
    if (!(await until(() => socket.connected, ACK_TIMEOUT_MS))) return { ok: false, reason: 'not connected' };
    try {
      const ack = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, { ...body, client_msg_id: key })) as Ack;
      return ack.ok ? { ok: true, id: ack.message.id } : { ok: false, reason: `ack ${ack.code ?? 'error'}` };
    } catch {
      return { ok: false, reason: 'no answer' };
    }
  }

  return {
    kind: 'io',
    user,
    send: (body, key) => command('message', { ...body }, key),
    change: (change, key) => command(...changeEmit(change), key),
    close() {
      closed = true;
      socket.close();
    },
  };
}

/** The Socket.IO event and body of a change. */
function changeEmit(change: ChangeRequest): [string, Record<string, unknown>] {
  if (change.kind === 'edit') return ['edit', { id: change.id, content: change.content }];
  if (change.kind === 'delete') return ['delete', { id: change.id }];
  return ['react', { id: change.id, emoji: change.emoji, add: true }];
}
