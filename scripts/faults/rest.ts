/** The suite talks to the cluster only through nginx, like any client. */
export const BASE = 'http://127.0.0.1:8080';
export const WS_BASE = 'ws://127.0.0.1:8080';

export interface User {
  id: string;
  username: string;
  token: string;
}

export type Attempt = { ok: true; id: string } | { ok: false; reason: string; retryAfterMs?: number };

export interface MessageBody {
  content: string;
  recipient?: string;
  room_id?: string;
}

/** A change of an acknowledged message: the edits, deletions and reactions the load makes. */
export type ChangeRequest =
  { kind: 'edit'; id: string; content: string } | { kind: 'delete'; id: string } | { kind: 'react'; id: string; emoji: string };

async function call(method: string, route: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return fetch(BASE + route, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

/** Set-up calls: retried a few times, since a replica can be slow to answer right after start. */
async function setUpCall<T>(what: string, method: string, route: string, token: string | undefined, body: unknown, expect: number[]): Promise<T> {
  let last = '';
  for (let i = 0; i < 5; i++) {
    try {
      const res = await call(method, route, token, body);
      if (expect.includes(res.status)) return (await res.json()) as T;
      last = `${res.status} ${await res.text()}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${what} failed: ${last}`);
}

export async function createUser(label: string): Promise<User> {
  const username = `${label}_${crypto.randomUUID().slice(0, 8)}`;
  const password = 'fault-suite-password';
  await setUpCall('register', 'POST', '/api/auth/register', undefined, { username, email: `${username}@example.com`, password }, [201]);
  const login = await setUpCall<{ token: string; user: { id: string } }>(
    'login',
    'POST',
    '/api/auth/login',
    undefined,
    { username, password },
    [200],
  );
  return { id: login.user.id, username, token: login.token };
}

export async function createRoom(owner: User, name: string, members: User[]): Promise<string> {
  const room = await setUpCall<{ id: string }>('create room', 'POST', '/api/rooms', owner.token, { name }, [201]);
  for (const member of members) {
    if (member.id !== owner.id)
      await setUpCall('add member', 'POST', `/api/rooms/${room.id}/members/${member.id}`, owner.token, undefined, [200, 201]);
  }
  return room.id;
}

/** `POST /api/webhooks` as `owner` (a session): the webhook's id and its signing secret, which only this answer carries. */
export async function createWebhook(
  owner: User,
  body: { url: string; events: string[]; conversation?: string },
): Promise<{ id: string; secret: string }> {
  return setUpCall('create webhook', 'POST', '/api/webhooks', owner.token, body, [201]);
}

/** One attempt of `POST /api/messages` with an idempotency key: 201 stored, 200 the original of an earlier attempt. */
export function postMessage(user: User, body: MessageBody, key: string, timeoutMs: number): Promise<Attempt> {
  return attempt(user, 'POST', '/api/messages', body, key, timeoutMs);
}

/** One attempt of a change (PATCH, DELETE, PUT .../reactions/{emoji}) with an idempotency key: 200 with the message. */
export function changeMessage(user: User, change: ChangeRequest, key: string, timeoutMs: number): Promise<Attempt> {
  if (change.kind === 'edit') return attempt(user, 'PATCH', `/api/messages/${change.id}`, { content: change.content }, key, timeoutMs);
  if (change.kind === 'delete') return attempt(user, 'DELETE', `/api/messages/${change.id}`, undefined, key, timeoutMs);
  return attempt(user, 'PUT', `/api/messages/${change.id}/reactions/${encodeURIComponent(change.emoji)}`, undefined, key, timeoutMs);
}

/** One attempt of `PUT /api/conversations/{id}/read`, answered with the read position now (a message id). */
export function markRead(user: User, conversation: string, messageId: string, timeoutMs: number): Promise<Attempt> {
  const position = (body: unknown) => (body as { message_id: string }).message_id;
  return attempt(user, 'PUT', `/api/conversations/${conversation}/read`, { message_id: messageId }, crypto.randomUUID(), timeoutMs, position);
}

async function attempt(
  user: User,
  method: string,
  route: string,
  body: unknown,
  key: string,
  timeoutMs: number,
  idOf = (answer: unknown) => (answer as { id: string }).id,
): Promise<Attempt> {
  try {
    const res = await fetch(BASE + route, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'idempotency-key': key },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.status === 200 || res.status === 201) return { ok: true, id: idOf(JSON.parse(text)) };
    const retryAfter = Number(res.headers.get('retry-after'));
    const code = (() => {
      try {
        return (JSON.parse(text) as { code?: string }).code ?? '';
      } catch {
        return '';
      }
    })();
    return { ok: false, reason: `http ${res.status}${code ? ` ${code}` : ''}`, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error && error.name === 'TimeoutError' ? 'no answer' : 'connection failed' };
  }
}
