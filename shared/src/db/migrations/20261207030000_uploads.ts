import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Attachments. An upload is a row of `uploads` (who sent it, what it is) and
 * its bytes in the configured blob store under the upload's id: by default
 * `blob_chunks` here, so the whole cluster shares them with nothing new to
 * run. An upload is `receiving` while its bytes stream in (it reserves the
 * largest upload against its uploader's daily bytes until its size is
 * known), `ready` once stored, and `deleted` once its message was deleted or
 * it was never attached in time: the sweeper then removes its bytes and the
 * row.
 *
 * A send names ready uploads of its sender that no message carries yet;
 * store_message attaches them in the send's own statement (locked, so two
 * sends cannot both take one) and copies their summary into
 * `messages.attachments`, which every read returns like `reactions`. A
 * deletion marks the message's uploads deleted in the deletion's statement.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('uploads')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('uploader_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('receiving')
        .check(sql`status in ('receiving', 'ready', 'deleted')`),
    )
    .addColumn('reserved', 'bigint', (c) => c.notNull())
    .addColumn('size', 'bigint')
    .addColumn('content_type', 'text')
    .addColumn('sha256', 'text')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('message_id', 'uuid', (c) => c.references('messages.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('status_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // The daily allowance: a user's uploads of the last 24 hours.
  await db.schema.createIndex('uploads_uploader_idx').on('uploads').columns(['uploader_id', 'created_at']).execute();
  await sql`create index uploads_message_idx on uploads (message_id) where message_id is not null`.execute(db);
  // The sweeper's work: unattached uploads by age, and deleted ones.
  await sql`create index uploads_unattached_idx on uploads (status_at) where message_id is null or status = 'deleted'`.execute(db);

  await db.schema
    .createTable('blob_chunks')
    .addColumn('key', 'uuid', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_chunks_pkey', ['key', 'n'])
    .execute();
  // Chunks are written once and read whole: no compression attempt on already compressed files.
  await sql`alter table blob_chunks alter column data set storage external`.execute(db);

  await db.schema
    .alterTable('messages')
    .addColumn('attachments', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();

  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, uuid, integer)`.execute(db);
  await sql`
    create function store_message(
      p_id uuid, p_sender uuid, p_recipient_id uuid, p_recipient_name text, p_room_id uuid,
      p_content text, p_client_msg_id text, p_reply_to uuid, p_attachments uuid[], number_up_to integer
    ) returns table(entry_id uuid, seq bigint, kind text, message messages)
    language plpgsql volatile as $$
    declare
      direct boolean := p_recipient_id is not null or p_recipient_name is not null;
      recipient uuid;
      parent messages;
      root uuid;
      counted messages;
      wanted uuid[] := array(select distinct a from unnest(coalesce(p_attachments, '{}')) a);
      taken uuid[];
      summary jsonb := '[]'::jsonb;
    begin
      if direct then
        select u.id into recipient from users u
        where (p_recipient_id is not null and u.id = p_recipient_id)
           or (p_recipient_id is null and lower(u.username) = p_recipient_name);
        if recipient is null then
          return;
        end if;
      end if;
      if cardinality(wanted) > 0 then
        -- Locked: a concurrent send naming the same upload waits, then finds it taken.
        select array_agg(u.id) into taken from (
          select id from uploads
          where id = any(wanted) and uploader_id = p_sender and status = 'ready' and message_id is null
          for update
        ) u;
        if coalesce(cardinality(taken), 0) <> cardinality(wanted) then
          raise exception 'an attachment is not an unattached upload of the sender'
            using errcode = 'check_violation', constraint = 'messages_attachments';
        end if;
        select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                 'id', u.id, 'name', u.name, 'size', u.size, 'content_type', u.content_type,
                 'url', '/api/uploads/' || u.id, 'width', u.width, 'height', u.height))
               order by array_position(p_attachments, u.id))
          into summary
          from uploads u where u.id = any(wanted);
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
      insert into messages (id, sender_id, recipient_id, room_id, content, client_msg_id, reply_to, attachments)
      select p_id, p_sender, recipient, p_room_id, p_content, p_client_msg_id, root, summary
      where p_room_id is null
        or exists (select 1 from room_members where room_id = p_room_id and user_id = p_sender for share);
      if not found then
        return;
      end if;
      if cardinality(wanted) > 0 then
        update uploads set message_id = p_id, status_at = now() where id = any(wanted);
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

  // A deletion also deletes the message's files (the sweeper removes their bytes).
  await sql`
    create or replace function change_message(
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
        deleted_at = case when p_kind = 'deleted' then clock_timestamp() else m.deleted_at end,
        reactions = case when p_kind = 'deleted' then '[]'::jsonb else m.reactions end,
        attachments = case when p_kind = 'deleted' then '[]'::jsonb else m.attachments end
      where m.id = p_message_id and m.deleted_at is null
      returning m.* into changed;
      if not found then
        return;
      end if;
      if p_kind = 'deleted' then
        delete from message_reactions r where r.message_id = p_message_id;
        update uploads set status = 'deleted', status_at = now() where message_id = p_message_id;
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
  await sql`drop function store_message(uuid, uuid, uuid, text, uuid, text, text, uuid, uuid[], integer)`.execute(db);
  // The threads migration's store_message and the reactions migration's change_message, as they were.
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
  await sql`
    create or replace function change_message(
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
        deleted_at = case when p_kind = 'deleted' then clock_timestamp() else m.deleted_at end,
        reactions = case when p_kind = 'deleted' then '[]'::jsonb else m.reactions end
      where m.id = p_message_id and m.deleted_at is null
      returning m.* into changed;
      if not found then
        return;
      end if;
      if p_kind = 'deleted' then
        delete from message_reactions r where r.message_id = p_message_id;
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
  await db.schema.alterTable('messages').dropColumn('attachments').execute();
  await db.schema.dropTable('blob_chunks').execute();
  await db.schema.dropTable('uploads').execute();
}
