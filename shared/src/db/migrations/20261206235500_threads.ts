import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Threads: a reply names its thread's root in `reply_to` (a reply to a reply
 * joins the root's thread), in the same conversation as the root; the root
 * counts its replies (`reply_count`, `last_reply_at`).
 *
 * `store_message()` (replaced here) takes the message replied to. It checks
 * that it exists and lies in the conversation of the send (both global, the
 * same room, or the same two users), else raises check_violation
 * `messages_reply_conversation` and stores nothing; stores the reply with the
 * root's id; and counts it on the root, which is a change of the root: a
 * `message_changes` row (`updated`) after the reply's own entry, so the
 * root's audience, the reply's too, gets `message_updated` with the new count.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('messages')
    .addColumn('reply_to', 'uuid', (c) => c.references('messages.id').onDelete('set null'))
    .addColumn('reply_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_reply_at', 'timestamptz')
    .execute();
  // A thread's page, newest first, like every history read.
  await sql`create index messages_thread_idx on messages (reply_to, created_at desc, id desc) where reply_to is not null`.execute(db);

  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, integer)`.execute(db);
  await sql`
    create function store_message(
      p_id uuid, p_sender uuid, p_recipient_id uuid, p_recipient_name text, p_room_id uuid,
      p_content text, p_client_msg_id text, p_reply_to uuid, number_up_to integer
    ) returns table(entry_id uuid, seq bigint, kind text, message messages)
    language plpgsql volatile as $$
    declare
      direct boolean := p_recipient_id is not null or p_recipient_name is not null;
      recipient uuid;
      parent messages;
      root uuid;
      counted messages;
    begin
      if direct then
        select u.id into recipient from users u
        where (p_recipient_id is not null and u.id = p_recipient_id)
           or (p_recipient_id is null and lower(u.username) = p_recipient_name);
        if recipient is null then
          return;
        end if;
      end if;
      if p_reply_to is not null then
        -- The root's row lock orders concurrent replies, so each count includes all before it.
        select * into parent from messages m where m.id = p_reply_to;
        root := coalesce(parent.reply_to, parent.id);
        if root is not null then
          select * into parent from messages m where m.id = root for update;
        end if;
        if parent.id is null or not (
          (p_room_id is not null and parent.room_id = p_room_id)
          or (direct and parent.recipient_id is not null
              and least(parent.sender_id, parent.recipient_id) = least(p_sender, recipient)
              and greatest(parent.sender_id, parent.recipient_id) = greatest(p_sender, recipient))
          or (p_room_id is null and not direct and parent.room_id is null and parent.recipient_id is null)
        ) then
          raise exception 'the message replied to is not in this conversation'
            using errcode = 'check_violation', constraint = 'messages_reply_conversation';
        end if;
      end if;
      insert into messages (id, sender_id, recipient_id, room_id, content, client_msg_id, reply_to)
      select p_id, p_sender, recipient, p_room_id, p_content, p_client_msg_id, root
      where p_room_id is null
        or exists (select 1 from room_members where room_id = p_room_id and user_id = p_sender for share);
      if not found then
        return;
      end if;
      if root is not null then
        update messages m set reply_count = m.reply_count + 1, last_reply_at = clock_timestamp() where m.id = root
        returning m.* into counted;
        insert into message_changes (id, message_id, kind, sender_id, recipient_id, room_id, actor_id)
        values (gen_random_uuid(), root, 'updated', counted.sender_id, counted.recipient_id, counted.room_id, p_sender);
      end if;
      if number_up_to > 0 and pg_try_advisory_xact_lock(7238462001) then
        return query select * from sequence_log(number_up_to);
      end if;
      return query select m.id, m.seq, 'created'::text, m from messages m where m.id = p_id and m.seq is null;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, uuid, integer)`.execute(db);
  await sql`
    create function store_message(
      p_id uuid, p_sender uuid, p_recipient_id uuid, p_recipient_name text, p_room_id uuid,
      p_content text, p_client_msg_id text, number_up_to integer
    ) returns table(entry_id uuid, seq bigint, kind text, message messages)
    language plpgsql volatile as $$
    begin
      insert into messages (id, sender_id, recipient_id, room_id, content, client_msg_id)
      select p_id, p_sender, r.id, p_room_id, p_content, p_client_msg_id
      from (
        select null::uuid as id where p_recipient_id is null and p_recipient_name is null
        union all
        select u.id from users u where u.id = p_recipient_id
        union all
        select u.id from users u where lower(u.username) = p_recipient_name
      ) r
      where p_room_id is null
        or exists (select 1 from room_members where room_id = p_room_id and user_id = p_sender for share);
      if not found then
        return;
      end if;
      if number_up_to > 0 and pg_try_advisory_xact_lock(7238462001) then
        return query select * from sequence_log(number_up_to);
      end if;
      return query select m.id, m.seq, 'created'::text, m from messages m where m.id = p_id and m.seq is null;
    end
    $$`.execute(db);
  await sql`drop index messages_thread_idx`.execute(db);
  await db.schema.alterTable('messages').dropColumn('last_reply_at').dropColumn('reply_count').dropColumn('reply_to').execute();
}
