import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Changes to a message (an edit, a deletion) take positions of their own in
 * the one commit-ordered log.
 *
 * A change is a row of `message_changes`; it gets its `seq` from the same
 * numbering as messages (same lock, same `message_log.head`), so the log is
 * messages and changes interleaved in commit order. Each change row carries
 * its message's audience (sender, recipient, room), so replay reads it by the
 * same per-audience seq indexes as messages. `log_entries` is that log as one
 * relation: what log readers select from.
 *
 * `sequence_log()` numbers messages and changes in one batch, messages first,
 * so a change numbered with its message comes after it. Each entry comes back
 * with the message's current row: a replayed change carries the message as it
 * is now, and a deleted message's content is gone from every copy.
 * `store_message()` (its earlier version numbered messages only) and the new
 * `change_message()` store, then number in the same commit when the log lock
 * is free, as before.
 *
 * `edited_at` and `deleted_at` say what happened to a message; a deleted
 * message keeps its place with empty content.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('edited_at', 'timestamptz').addColumn('deleted_at', 'timestamptz').execute();
  // Only a deleted message is empty.
  await sql`alter table messages drop constraint messages_content_check,
            add constraint messages_content_check check (content <> '' or deleted_at is not null)`.execute(db);

  await db.schema
    .createTable('message_changes')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('message_id', 'uuid', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('updated', 'deleted')`))
    .addColumn('sender_id', 'uuid', (c) => c.notNull())
    .addColumn('recipient_id', 'uuid')
    .addColumn('room_id', 'uuid')
    .addColumn('seq', 'bigint')
    // Who made the change, and their idempotency key for it (REST Idempotency-Key, socket client_msg_id).
    .addColumn('actor_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client_key', 'text', (c) => c.check(sql`char_length(client_key) between 1 and 128`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .execute();
  await sql`create unique index message_changes_client_key on message_changes (actor_id, client_key) where client_key is not null`.execute(db);
  await sql`create unique index message_changes_seq_key on message_changes (seq)`.execute(db);
  await sql`create index message_changes_unsequenced_idx on message_changes (created_at, id) where seq is null`.execute(db);
  await sql`create index message_changes_message_idx on message_changes (message_id)`.execute(db);
  // The same audiences as messages' replay indexes (the delivery-log migration).
  await sql`create index message_changes_global_seq_idx on message_changes (seq) where recipient_id is null and room_id is null`.execute(db);
  await sql`create index message_changes_room_seq_idx on message_changes (room_id, seq) where room_id is not null`.execute(db);
  await sql`create index message_changes_dm_sender_seq_idx on message_changes (sender_id, seq) where recipient_id is not null`.execute(db);
  await sql`create index message_changes_dm_recipient_seq_idx on message_changes (recipient_id, seq) where recipient_id is not null`.execute(db);

  await sql`
    create view log_entries as
      select m.id as entry_id, m.seq, 'created'::text as kind, m.id as message_id, m.sender_id, m.recipient_id, m.room_id
      from messages m
      union all
      select c.id, c.seq, c.kind, c.message_id, c.sender_id, c.recipient_id, c.room_id
      from message_changes c`.execute(db);

  // Entries as the writers return them: `entry_id` is the message's id for a new
  // message and the change's id for a change; `seq` is null for one not numbered.
  await sql`
    create function sequence_log(max_rows integer)
    returns table(entry_id uuid, seq bigint, kind text, message messages)
    language plpgsql volatile as $$
    declare
      last bigint;
      numbered_messages integer;
      numbered_changes integer;
    begin
      perform pg_advisory_xact_lock(7238462001);
      select head into last from message_log;
      return query
        with pending as (
          select p.id, last + row_number() over (order by p.created_at, p.id) as next_seq
          from messages p where p.seq is null
          order by p.created_at, p.id
          limit max_rows
        ), numbered as (
          update messages m set seq = pending.next_seq from pending where m.id = pending.id returning m
        )
        select (n.m).id, (n.m).seq, 'created'::text, n.m from numbered n;
      get diagnostics numbered_messages = row_count;
      last := last + numbered_messages;
      return query
        with pending as (
          select p.id, last + row_number() over (order by p.created_at, p.id) as next_seq
          from message_changes p where p.seq is null
          order by p.created_at, p.id
          limit greatest(max_rows - numbered_messages, 0)
        ), numbered as (
          update message_changes c set seq = pending.next_seq from pending where c.id = pending.id
          returning c.id, c.seq, c.kind, c.message_id
        )
        select n.id, n.seq, n.kind, m from numbered n join messages m on m.id = n.message_id;
      get diagnostics numbered_changes = row_count;
      -- Nothing numbered, nothing written: the transaction commits without a WAL flush.
      if numbered_messages + numbered_changes > 0 then
        update message_log set head = last + numbered_changes;
      end if;
    end
    $$`.execute(db);

  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, integer)`.execute(db);
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

  // An edit (p_kind 'updated', p_content the new text) or a deletion ('deleted':
  // the content erased) of a message not deleted yet; nothing when there is none.
  await sql`
    create function change_message(
      p_change_id uuid, p_message_id uuid, p_kind text, p_content text, p_actor uuid, p_client_key text, number_up_to integer
    )
    returns table(entry_id uuid, seq bigint, kind text, message messages)
    language plpgsql volatile as $$
    declare
      changed messages;
    begin
      update messages m set
        content = case when p_kind = 'deleted' then '' else p_content end,
        edited_at = case when p_kind = 'updated' then clock_timestamp() else m.edited_at end,
        deleted_at = case when p_kind = 'deleted' then clock_timestamp() else m.deleted_at end
      where m.id = p_message_id and m.deleted_at is null
      returning m.* into changed;
      if not found then
        return;
      end if;
      insert into message_changes (id, message_id, kind, sender_id, recipient_id, room_id, actor_id, client_key)
      values (p_change_id, p_message_id, p_kind, changed.sender_id, changed.recipient_id, changed.room_id, p_actor, p_client_key);
      if number_up_to > 0 and pg_try_advisory_xact_lock(7238462001) then
        return query select * from sequence_log(number_up_to);
      end if;
      return query select p_change_id, null::bigint, p_kind, changed
        where not exists (select 1 from message_changes c where c.id = p_change_id and c.seq is not null);
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function change_message(uuid, uuid, text, text, uuid, text, integer)`.execute(db);
  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, integer)`.execute(db);
  // The earlier store_message, numbering messages only (migration 20261206230000).
  await sql`
    create function store_message(
      p_id uuid, p_sender uuid, p_recipient_id uuid, p_recipient_name text, p_room_id uuid,
      p_content text, p_client_msg_id text, number_up_to integer
    ) returns setof messages
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
        return query select * from sequence_messages(number_up_to);
      end if;
      return query select * from messages where id = p_id and seq is null;
    end
    $$`.execute(db);
  await sql`drop function sequence_log(integer)`.execute(db);
  await sql`drop view log_entries`.execute(db);
  await sql`drop table message_changes`.execute(db);
  // The earlier schema has no tombstones: a deleted message's content becomes a placeholder.
  await sql`update messages set content = '(deleted)' where deleted_at is not null`.execute(db);
  await sql`alter table messages drop constraint messages_content_check, add constraint messages_content_check check (content <> '')`.execute(db);
  await db.schema.alterTable('messages').dropColumn('deleted_at').dropColumn('edited_at').execute();
}
