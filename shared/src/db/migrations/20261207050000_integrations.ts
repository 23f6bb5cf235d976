import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Integrations: outgoing webhooks and Web Push, both driven from the
 * commit-ordered log by the worker service (services/worker).
 *
 * - `message_changes` records which reaction a reaction change made
 *   (`reaction`, `reaction_added`), so a log reader tells `reaction.added`
 *   from an edit; `react_message()` is replaced to fill them.
 * - `webhooks`: each with its own `cursor` (the last log position it has
 *   acknowledged or skipped) and a lease (`lease_token`, `lease_until`) that
 *   one worker at a time holds while it delivers, fenced by the token: a
 *   worker whose lease lapsed cannot move the cursor. `failures` counts
 *   consecutive failed attempts (the entry at the cursor's next position);
 *   the webhook is paused at WEBHOOK_MAX_FAILURES.
 * - `webhook_deliveries`: every attempt, kept WEBHOOK_DELIVERY_RETENTION.
 * - `push_subscriptions`: browser subscriptions, one row per endpoint.
 * - `push_notices`: per user and conversation, what waits to be pushed
 *   (counted once, by the one lease holder of the push log reader) and when it
 *   may go (`due_at`): coalescing state.
 * - `log_readers`: named cursors with a lease, for readers that consume the
 *   whole log in order (the push reader).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('message_changes').addColumn('reaction', 'text').addColumn('reaction_added', 'boolean').execute();
  await sql`
    create or replace function react_message(
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
      insert into message_changes (id, message_id, kind, sender_id, recipient_id, room_id, actor_id, client_key, reaction, reaction_added)
      values (p_change_id, p_message_id, 'updated', target.sender_id, target.recipient_id, target.room_id, p_user, p_client_key, p_emoji, p_add);
      if number_up_to > 0 and pg_try_advisory_xact_lock(7238462001) then
        return query select * from sequence_log(number_up_to);
      end if;
      return query select p_change_id, null::bigint, 'updated'::text, target
        where not exists (select 1 from message_changes c where c.id = p_change_id and c.seq is not null);
    end
    $$`.execute(db);

  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('owner_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull().check(sql`char_length(url) between 1 and 2048`))
    .addColumn('events', sql`text[]`, (c) => c.notNull().check(sql`cardinality(events) > 0`))
    .addColumn('conversation', 'text')
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('active')
        .check(sql`status in ('active', 'paused')`),
    )
    .addColumn('cursor', 'bigint', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('lease_token', 'uuid')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('paused_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index webhooks_owner_idx on webhooks (owner_id, created_at, id)`.execute(db);
  await sql`create index webhooks_due_idx on webhooks (next_attempt_at) where status = 'active'`.execute(db);

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('webhook_id', 'uuid', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('delivered', 'failed')`))
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, id desc)`.execute(db);
  await sql`create index webhook_deliveries_created_idx on webhook_deliveries (created_at)`.execute(db);

  await db.schema
    .createTable('push_subscriptions')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('endpoint', 'text', (c) =>
      c
        .notNull()
        .unique()
        .check(sql`char_length(endpoint) between 1 and 2048`),
    )
    .addColumn('p256dh', 'text', (c) => c.notNull())
    .addColumn('auth', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index push_subscriptions_user_idx on push_subscriptions (user_id)`.execute(db);

  await db.schema
    .createTable('push_notices')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('conversation', 'text', (c) => c.notNull())
    .addColumn('pending', 'integer', (c) => c.notNull())
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz')
    .addPrimaryKeyConstraint('push_notices_pkey', ['user_id', 'conversation'])
    .execute();
  await sql`create index push_notices_due_idx on push_notices (due_at) where pending > 0`.execute(db);

  await db.schema
    .createTable('log_readers')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('lease_token', 'uuid')
    .addColumn('lease_until', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['log_readers', 'push_notices', 'push_subscriptions', 'webhook_deliveries', 'webhooks']) {
    await db.schema.dropTable(table).execute();
  }
  await sql`
    create or replace function react_message(
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
  await db.schema.alterTable('message_changes').dropColumn('reaction').dropColumn('reaction_added').execute();
}
