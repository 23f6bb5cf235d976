import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Reactions: one row per (message, emoji, user), and on the message the
 * summary every reader shows (`reactions`: `[{emoji, count, users}]`, ordered
 * by each emoji's earliest reaction, `users` the first 10 usernames), kept in
 * step by `react_message()` in the same transaction, so a history page or a
 * replay reads it with the message and counts nothing.
 *
 * A reaction that changes something is a change of the message (a
 * `message_changes` row of kind `updated`): its own position in the log, and
 * `message_updated` with the new summary to the message's audience. Adding a
 * reaction the user already made, or removing one they did not, changes
 * nothing and logs nothing. A new emoji beyond `max_distinct` on the message
 * raises check_violation `message_reactions_cap`. Deleting a message clears
 * its reactions (`change_message()`, replaced here).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('messages')
    .addColumn('reactions', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema
    .createTable('message_reactions')
    .addColumn('message_id', 'uuid', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('emoji', 'text', (c) => c.notNull().check(sql`char_length(emoji) between 1 and 64`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addPrimaryKeyConstraint('message_reactions_pkey', ['message_id', 'emoji', 'user_id'])
    .execute();
  await sql`create index message_reactions_user_idx on message_reactions (user_id)`.execute(db);

  await sql`
    create function reaction_summary(p_message_id uuid) returns jsonb
    language sql stable as $$
      select coalesce(jsonb_agg(jsonb_build_object('emoji', e.emoji, 'count', e.n, 'users', e.users) order by e.first, e.emoji), '[]'::jsonb)
      from (
        select r.emoji, count(*) as n, min(r.created_at) as first,
          to_jsonb((array_agg(u.username order by r.created_at, u.username))[1:10]) as users
        from message_reactions r join users u on u.id = r.user_id
        where r.message_id = p_message_id
        group by r.emoji
      ) e
    $$`.execute(db);

  await sql`
    create function react_message(
      p_change_id uuid, p_message_id uuid, p_user uuid, p_emoji text, p_add boolean, max_distinct integer,
      p_client_key text, number_up_to integer
    ) returns table(entry_id uuid, seq bigint, kind text, message messages)
    language plpgsql volatile as $$
    declare
      target messages;
      touched integer;
    begin
      -- The message's row lock orders concurrent reactions to it, so each summary counts all before it.
      select * into target from messages m where m.id = p_message_id and m.deleted_at is null for update;
      if not found then
        return;
      end if;
      if p_add then
        if not exists (select 1 from message_reactions r where r.message_id = p_message_id and r.emoji = p_emoji)
          and (select count(distinct r.emoji) from message_reactions r where r.message_id = p_message_id) >= max_distinct then
          raise exception 'too many different reactions on this message'
            using errcode = 'check_violation', constraint = 'message_reactions_cap';
        end if;
        insert into message_reactions (message_id, emoji, user_id) values (p_message_id, p_emoji, p_user) on conflict do nothing;
      else
        delete from message_reactions r where r.message_id = p_message_id and r.emoji = p_emoji and r.user_id = p_user;
      end if;
      get diagnostics touched = row_count;
      if touched = 0 then
        -- Nothing changed: the message as it is, with no log entry.
        return query select null::uuid, null::bigint, 'unchanged'::text, target;
        return;
      end if;
      update messages m set reactions = reaction_summary(p_message_id) where m.id = p_message_id returning m.* into target;
      insert into message_changes (id, message_id, kind, sender_id, recipient_id, room_id, actor_id, client_key)
      values (p_change_id, p_message_id, 'updated', target.sender_id, target.recipient_id, target.room_id, p_user, p_client_key);
      if number_up_to > 0 and pg_try_advisory_xact_lock(7238462001) then
        return query select * from sequence_log(number_up_to);
      end if;
      return query select p_change_id, null::bigint, 'updated'::text, target
        where not exists (select 1 from message_changes c where c.id = p_change_id and c.seq is not null);
    end
    $$`.execute(db);

  // A deletion also clears the message's reactions.
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
}

export async function down(db: Kysely<unknown>): Promise<void> {
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
  await sql`drop function react_message(uuid, uuid, uuid, text, boolean, integer, text, integer)`.execute(db);
  await sql`drop function reaction_summary(uuid)`.execute(db);
  await sql`drop table message_reactions`.execute(db);
  await db.schema.alterTable('messages').dropColumn('reactions').execute();
}
