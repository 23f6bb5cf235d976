import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@chat/shared/model';
import { tapEvents, type EventTap } from '../../../test/events.ts';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../../test/harness.ts';

// PATCH and DELETE /api/messages/{id}: who may change a message, what is
// stored, and the change's own position in the log, routed to the message's
// audience.

let api: TestApi;
let tap: EventTap;
beforeAll(async () => {
  api = await startApi();
  tap = await tapEvents(api);
});
afterAll(async () => {
  await tap.close();
  await api.close();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const patch = (as: TestUser, id: string, json: unknown) => api.fetch(`/api/messages/${id}`, { method: 'PATCH', token: as.token, json });
const remove = (as: TestUser, id: string) => api.fetch(`/api/messages/${id}`, { method: 'DELETE', token: as.token });

/** The seq the router carried a message's entry of this event at. */
const routedSeq = async (event: string, id: string) => (await tap.next('deliver', (d) => d.event === event && d.message.id === id, 5_000)).seq;

async function stored(id: string) {
  return api.resources.db.selectFrom('messages').select(['content', 'edited_at', 'deleted_at']).where('id', '=', id).executeTakeFirstOrThrow();
}

describe('PATCH /api/messages/{id}', () => {
  it('lets the sender edit: 200 with edited_at, and the edit is logged after the message, to its audience', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const sent = await sendMessage(api, alice, { content: 'first words', recipient: bob.username });
    const res = await patch(alice, sent.id, { content: 'better words' });
    expect(res.status).toBe(200);
    const edited = (await res.json()) as ChatMessage;
    expect(edited).toEqual({ ...sent, content: 'better words', edited_at: expect.stringMatching(ISO) as string });
    expect((await stored(sent.id)).content).toBe('better words');

    const update = await tap.next('deliver', (d) => d.event === 'message_updated' && d.message.id === sent.id, 5_000);
    expect(update.message).toEqual(edited);
    expect([...update.rooms].sort()).toEqual([`user:${alice.id}`, `user:${bob.id}`].sort());
    expect(update.seq).toBeGreaterThan(await routedSeq('direct_message', sent.id));

    // History shows the message as it is now, in its place.
    const page = (await (await api.fetch(`/api/messages/between/${alice.username}/${bob.username}`, { token: bob.token })).json()) as {
      messages: ChatMessage[];
    };
    expect(page.messages).toEqual([edited]);
  });

  it('refuses anyone but the sender (403), and hides messages the caller cannot see (404)', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const global = await sendMessage(api, alice, { content: 'global' });
    expect((await patch(bob, global.id, { content: 'hijack' })).status).toBe(403);
    const dm = await sendMessage(api, alice, { content: 'private', recipient: bob.username });
    const outsider = await patch(carol, dm.id, { content: 'hijack' });
    expect(outsider.status).toBe(404);
    expect(await outsider.json()).toMatchObject({ code: 'not_found' });
    expect((await stored(dm.id)).content).toBe('private');
    expect((await patch(alice, '00000000-0000-4000-8000-000000000000', { content: 'x' })).status).toBe(404);
  });

  it('validates like a send: a bad id, empty or oversized content, no body', async () => {
    const alice = await createUser(api);
    const sent = await sendMessage(api, alice, { content: 'keep me' });
    expect((await patch(alice, 'not-an-id', { content: 'x' })).status).toBe(400);
    expect((await patch(alice, sent.id, { content: '   ' })).status).toBe(400);
    expect((await patch(alice, sent.id, { content: 'x'.repeat(2_001) })).status).toBe(400);
    expect((await patch(alice, sent.id, {})).status).toBe(400);
    expect((await stored(sent.id)).content).toBe('keep me');
  });

  it('refuses to edit a deleted message (409)', async () => {
    const alice = await createUser(api);
    const sent = await sendMessage(api, alice, { content: 'gone soon' });
    expect((await remove(alice, sent.id)).status).toBe(200);
    const res = await patch(alice, sent.id, { content: 'back' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: 'conflict' });
  });
});

describe('DELETE /api/messages/{id}', () => {
  it('erases the content, keeps a tombstone in history, logs the deletion; a second DELETE answers the same tombstone', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'deletions');
    expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
    const sent = await sendMessage(api, bob, { content: 'secret plans', room_id: room.id });

    const res = await remove(bob, sent.id);
    expect(res.status).toBe(200);
    const tombstone = (await res.json()) as ChatMessage;
    expect(tombstone).toEqual({ ...sent, content: '', deleted_at: expect.stringMatching(ISO) as string });
    // Erased, not hidden.
    expect(await stored(sent.id)).toMatchObject({ content: '', deleted_at: expect.any(Date) as Date });

    const deletion = await tap.next('deliver', (d) => d.event === 'message_deleted' && d.message.id === sent.id, 5_000);
    expect(deletion).toMatchObject({ rooms: [`room:${room.id}`], message: tombstone });
    expect(deletion.seq).toBeGreaterThan(await routedSeq('message', sent.id));

    const again = await remove(bob, sent.id);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(tombstone);
    expect(tap.events.filter((e) => e.name === 'deliver' && e.payload.event === 'message_deleted' && e.payload.message.id === sent.id)).toHaveLength(
      1,
    );

    const history = (await (await api.fetch(`/api/rooms/${room.id}/messages`, { token: alice.token })).json()) as { messages: ChatMessage[] };
    expect(history.messages).toEqual([tombstone]);
  });

  it("lets the room's creator delete a member's message, and no other member", async () => {
    const [owner, member, other] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, owner, 'moderated');
    for (const user of [member, other]) {
      expect((await api.fetch(`/api/rooms/${room.id}/members/${user.id}`, { method: 'POST', token: owner.token })).status).toBe(201);
    }
    const first = await sendMessage(api, member, { content: 'spam', room_id: room.id });
    expect((await remove(other, first.id)).status).toBe(403);
    expect((await remove(owner, first.id)).status).toBe(200);
    // The creator may delete, not edit.
    const second = await sendMessage(api, member, { content: 'more', room_id: room.id });
    expect((await patch(owner, second.id, { content: 'edited by owner' })).status).toBe(403);
  });

  it("refuses a global message's deletion to anyone but its sender", async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const sent = await sendMessage(api, alice, { content: 'mine' });
    expect((await remove(bob, sent.id)).status).toBe(403);
    expect((await stored(sent.id)).content).toBe('mine');
  });
});

describe('MESSAGE_EDIT_WINDOW', () => {
  it('refuses edits after the window, and never refuses a deletion', async () => {
    const windowed = await startApi({ MESSAGE_EDIT_WINDOW: '50ms' });
    try {
      const alice = await createUser(windowed);
      const sent = await sendMessage(windowed, alice, { content: 'quick' });
      const call = (method: string, json?: unknown) =>
        windowed.fetch(`/api/messages/${sent.id}`, { method, token: alice.token, ...(json ? { json } : {}) });
      await expect.poll(async () => (await call('PATCH', { content: 'too late' })).status, { timeout: 5_000 }).toBe(403);
      expect((await call('DELETE')).status).toBe(200);
    } finally {
      await windowed.close();
    }
  });
});

describe('idempotency keys on changes', () => {
  it('answers a retried edit or deletion with the message as it is now, logging nothing twice; another message with the same key is 409', async () => {
    const alice = await createUser(api);
    const [first, second] = [await sendMessage(api, alice, { content: 'one' }), await sendMessage(api, alice, { content: 'two' })];
    const keyed = (method: string, id: string, key: string, json?: unknown) =>
      api.fetch(`/api/messages/${id}`, { method, token: alice.token, headers: { 'idempotency-key': key }, ...(json ? { json } : {}) });

    const edited = (await (await keyed('PATCH', first.id, 'e-1', { content: 'one, edited' })).json()) as ChatMessage;
    const retried = await keyed('PATCH', first.id, 'e-1', { content: 'one, edited' });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual(edited);
    expect((await keyed('PATCH', second.id, 'e-1', { content: 'two, edited' })).status).toBe(409);
    expect((await stored(second.id)).content).toBe('two');

    const tombstone = (await (await keyed('DELETE', first.id, 'd-1')).json()) as ChatMessage;
    expect(await (await keyed('DELETE', first.id, 'd-1')).json()).toEqual(tombstone);
    // A retried edit after the deletion answers what the message is now: the tombstone, not a 409.
    expect(await (await keyed('PATCH', first.id, 'e-1', { content: 'one, edited' })).json()).toEqual(tombstone);

    await tap.next('deliver', (d) => d.event === 'message_deleted' && d.message.id === first.id, 5_000);
    const changes = tap.events.filter((e) => e.name === 'deliver' && e.payload.message.id === first.id && e.payload.event !== 'message');
    expect(changes.map((e) => (e.name === 'deliver' ? e.payload.event : ''))).toEqual(['message_updated', 'message_deleted']);
  });
});

describe('reactions', () => {
  const react = (as: TestUser, id: string, emoji: string, method: 'PUT' | 'DELETE' = 'PUT') =>
    api.fetch(`/api/messages/${id}/reactions/${encodeURIComponent(emoji)}`, { method, token: as.token });
  const reactionsOf = async (res: Response) => ((await res.json()) as ChatMessage).reactions;

  it('counts each user once per emoji, in the order of their earliest reactions, and logs only real changes', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const sent = await sendMessage(api, alice, { content: 'react to me' });
    expect(await reactionsOf(await react(bob, sent.id, '👍'))).toEqual([{ emoji: '👍', count: 1, users: [bob.username] }]);
    // Twice is once: nothing changes, nothing is announced.
    expect(await reactionsOf(await react(bob, sent.id, '👍'))).toEqual([{ emoji: '👍', count: 1, users: [bob.username] }]);
    await react(carol, sent.id, ':tada:');
    const both = await reactionsOf(await react(carol, sent.id, '👍'));
    expect(both).toEqual([
      { emoji: '👍', count: 2, users: [bob.username, carol.username] },
      { emoji: ':tada:', count: 1, users: [carol.username] },
    ]);
    // The order is that of each emoji's earliest reaction still standing: Carol's 👍 came after her :tada:.
    expect(await reactionsOf(await react(bob, sent.id, '👍', 'DELETE'))).toEqual([
      { emoji: ':tada:', count: 1, users: [carol.username] },
      { emoji: '👍', count: 1, users: [carol.username] },
    ]);
    // Taking back what is not there changes nothing.
    expect((await react(bob, sent.id, ':tada:', 'DELETE')).status).toBe(200);

    await tap.next(
      'deliver',
      (d) => d.event === 'message_updated' && d.message.id === sent.id && d.message.reactions.length === 2 && d.message.reactions[0]?.count === 1,
    );
    const updates = tap.events.filter((e) => e.name === 'deliver' && e.payload.event === 'message_updated' && e.payload.message.id === sent.id);
    expect(updates).toHaveLength(4);
    // History carries them.
    const feed = (await (await api.fetch('/api/messages?limit=100', { token: alice.token })).json()) as { messages: ChatMessage[] };
    expect(feed.messages.find((m) => m.id === sent.id)?.reactions).toHaveLength(2);
  });

  it('lists at most 10 users per emoji, and caps the different emoji per message (409)', async () => {
    const capped = await startApi({ REACTIONS_MAX_DISTINCT: '2' });
    try {
      const users = await Promise.all(Array.from({ length: 12 }, () => createUser(capped)));
      const sent = await sendMessage(capped, users[0]!, { content: 'popular' });
      const put = (as: TestUser, emoji: string) =>
        capped.fetch(`/api/messages/${sent.id}/reactions/${encodeURIComponent(emoji)}`, { method: 'PUT', token: as.token });
      for (const user of users) expect((await put(user, '🎉')).status).toBe(200);
      expect((await put(users[0]!, '👀')).status).toBe(200);
      const refused = await put(users[1]!, '🔥');
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ code: 'conflict' });
      const [party] = await reactionsOf(await put(users[1]!, '🎉'));
      expect(party).toEqual({ emoji: '🎉', count: 12, users: users.slice(0, 10).map((u) => u.username) });
    } finally {
      await capped.close();
    }
  });

  it('refuses what is not one emoji or a short code, hides what the caller cannot see, and clears reactions on deletion', async () => {
    const [alice, bob, mallory] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const dm = await sendMessage(api, alice, { content: 'just us', recipient: bob.username });
    for (const bad of ['👍👍', 'a', ':no spaces:', `:${'x'.repeat(40)}:`, '<script>']) {
      expect((await react(bob, dm.id, bad)).status, bad).toBe(400);
    }
    expect((await react(mallory, dm.id, '👍')).status).toBe(404);
    expect((await react(bob, dm.id, '👍')).status).toBe(200);
    const tombstone = (await (await remove(alice, dm.id)).json()) as ChatMessage;
    expect(tombstone.reactions).toEqual([]);
    expect(await api.resources.db.selectFrom('message_reactions').select('emoji').where('message_id', '=', dm.id).execute()).toEqual([]);
    expect((await react(bob, dm.id, '👍')).status).toBe(409);
  });
});

describe('threads', () => {
  it('files a reply (and a reply to a reply) under the root, counts it there, and logs the count after the reply', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const root = await sendMessage(api, alice, { content: 'root', recipient: bob.username });
    const reply = await sendMessage(api, bob, { content: 'reply', recipient: alice.username, reply_to: root.id });
    expect(reply).toMatchObject({ reply_to: root.id, reply_count: 0 });
    const nested = await sendMessage(api, alice, { content: 'reply to the reply', recipient: bob.username, reply_to: reply.id });
    expect(nested.reply_to).toBe(root.id);

    const counted = await tap.next('deliver', (d) => d.event === 'message_updated' && d.message.id === root.id && d.message.reply_count === 2, 5_000);
    expect(counted.message.last_reply_at).toMatch(ISO);
    expect(counted.seq).toBeGreaterThan(await routedSeq('direct_message', nested.id));

    const page = (await (await api.fetch(`/api/messages/${reply.id}/replies?limit=1`, { token: bob.token })).json()) as {
      messages: ChatMessage[];
      next_cursor: string | null;
    };
    expect(page.messages.map((m) => m.id)).toEqual([nested.id]);
    const rest = (await (await api.fetch(`/api/messages/${root.id}/replies?limit=1&before=${page.next_cursor}`, { token: bob.token })).json()) as {
      messages: ChatMessage[];
      next_cursor: string | null;
    };
    expect(rest).toEqual({ messages: [expect.objectContaining({ id: reply.id })], next_cursor: null });
  });

  it('refuses a reply into another conversation, and hides threads the caller cannot see', async () => {
    const [alice, bob, mallory] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const dm = await sendMessage(api, alice, { content: 'private root', recipient: bob.username });
    const global = await sendMessage(api, alice, { content: 'public root' });
    const send = (as: TestUser, json: unknown) => api.fetch('/api/messages', { method: 'POST', token: as.token, json });
    // Mallory replying into Alice and Bob's conversation, from hers or from global: the same 400 as for no message at all.
    for (const body of [
      { content: 'x', reply_to: dm.id },
      { content: 'x', recipient: alice.username, reply_to: dm.id },
      { content: 'x', reply_to: '00000000-0000-4000-8000-000000000000' },
      { content: 'x', recipient: bob.username, reply_to: global.id },
    ]) {
      const res = await send(mallory, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ details: [{ field: 'reply_to' }] });
    }
    expect((await api.fetch(`/api/messages/${dm.id}/replies`, { token: mallory.token })).status).toBe(404);
    expect(
      (await (
        await api.fetch(`/api/messages/${dm.id}`, { method: 'PATCH', token: alice.token, json: { content: 'still root' } })
      ).json()) as ChatMessage,
    ).toMatchObject({
      reply_count: 0,
    });
  });
});

describe('limits on changes', () => {
  it('counts edits against MESSAGE_RATE_LIMIT, and reactions against their own REACTION_RATE_LIMIT', async () => {
    const limited = await startApi({ MESSAGE_RATE_LIMIT: '2', MESSAGE_RATE_WINDOW: '1m', REACTION_RATE_LIMIT: '2', REACTION_RATE_WINDOW: '1m' });
    try {
      const alice = await createUser(limited);
      const call = (method: string, path: string, json?: unknown) => limited.fetch(path, { method, token: alice.token, ...(json ? { json } : {}) });
      const sent = (await (await call('POST', '/api/messages', { content: 'one' })).json()) as ChatMessage;
      expect((await call('PATCH', `/api/messages/${sent.id}`, { content: 'one, edited' })).status).toBe(200);
      // The send and the edit used up the allowance of two: a third of either kind is refused.
      const refused = await call('PATCH', `/api/messages/${sent.id}`, { content: 'again' });
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ code: 'rate_limited' });
      expect((await call('POST', '/api/messages', { content: 'two' })).status).toBe(429);
      // Reactions draw on their own.
      expect((await call('PUT', `/api/messages/${sent.id}/reactions/${encodeURIComponent('👍')}`)).status).toBe(200);
      expect((await call('DELETE', `/api/messages/${sent.id}/reactions/${encodeURIComponent('👍')}`)).status).toBe(200);
      expect((await call('PUT', `/api/messages/${sent.id}/reactions/${encodeURIComponent('👍')}`)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
