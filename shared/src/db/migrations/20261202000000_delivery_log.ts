import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Messages get `seq`, their position in one commit-ordered log.
 *
 * A message is inserted without one (inserts commit in parallel and share
 * WAL flushes), then `sequence_messages()` numbers every committed message
 * still without a seq, under one lock, in one transaction. So seq order is
 * commit order (a higher seq is never visible before a lower one: a reader
 * that has seen N can still read everything below N), seqs are dense (a
 * rolled-back batch takes its numbers with it), and a burst of sends is
 * numbered in a few batches instead of one lock-holding flush per message.
 *
 * `client_msg_id` makes sends idempotent per sender, permanently.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('message_log')
    .addColumn('id', 'boolean', (c) =>
      c
        .primaryKey()
        .defaultTo(true)
        .check(sql`id`),
    )
    .addColumn('head', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('messages').addColumn('seq', 'bigint').execute();
  await db.schema
    .alterTable('messages')
    .addColumn('client_msg_id', 'text', (c) => c.check(sql`char_length(client_msg_id) between 1 and 128`))
    .execute();
  await sql`update messages m set seq = o.n
            from (select id, row_number() over (order by created_at, id) as n from messages) o
            where m.id = o.id`.execute(db);
  await sql`insert into message_log (id, head) select true, coalesce(max(seq), 0) from messages`.execute(db);

  await sql`create unique index messages_seq_key on messages (seq)`.execute(db);
  await sql`create index messages_unsequenced_idx on messages (created_at, id) where seq is null`.execute(db);
  await sql`create unique index messages_client_msg_key on messages (sender_id, client_msg_id)
            where client_msg_id is not null`.execute(db);
  // Replay reads one audience at a time in seq order, so each has its own index.
  await sql`create index messages_global_seq_idx on messages (seq) where recipient_id is null and room_id is null`.execute(db);
  await sql`create index messages_room_seq_idx on messages (room_id, seq) where room_id is not null`.execute(db);
  await sql`create index messages_dm_sender_seq_idx on messages (sender_id, seq) where recipient_id is not null`.execute(db);
  await sql`create index messages_dm_recipient_seq_idx on messages (recipient_id, seq) where recipient_id is not null`.execute(db);

  // VOLATILE: each statement takes a fresh snapshot, so once the lock is held
  // the function sees every batch committed before it, and never renumbers one.
  // The advisory lock writes no WAL: a call that finds nothing to number
  // commits without a flush.
  await sql`
    create function sequence_messages(max_rows integer) returns setof messages
    language plpgsql volatile as $$
    declare
      last bigint;
      numbered_count integer;
    begin
      perform pg_advisory_xact_lock(7238462001);
      select head into last from message_log;
      return query
        with pending as (
          select id, last + row_number() over (order by created_at, id) as next_seq
          from messages where seq is null
          order by created_at, id
          limit max_rows
        ), numbered as (
          update messages m set seq = p.next_seq from pending p where m.id = p.id returning m.*
        )
        select * from numbered order by seq;
      get diagnostics numbered_count = row_count;
      -- Nothing numbered, nothing written: the transaction commits without a WAL flush.
      if numbered_count > 0 then
        update message_log set head = last + numbered_count;
      end if;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function sequence_messages(integer)`.execute(db);
  for (const index of [
    'messages_dm_recipient_seq_idx',
    'messages_dm_sender_seq_idx',
    'messages_room_seq_idx',
    'messages_global_seq_idx',
    'messages_client_msg_key',
    'messages_unsequenced_idx',
    'messages_seq_key',
  ]) {
    await db.schema.dropIndex(index).execute();
  }
  await db.schema.alterTable('messages').dropColumn('client_msg_id').execute();
  await db.schema.alterTable('messages').dropColumn('seq').execute();
  await db.schema.dropTable('message_log').execute();
}
