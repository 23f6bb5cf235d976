import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Messages get `seq`, their position in one commit-ordered log. The next
 * value comes from a single counter row that the inserting transaction keeps
 * locked until it commits, so a higher seq is never visible before a lower
 * one: a reader that has seen seq N has seen, or can still read, everything
 * below N. A rolled-back insert also rolls back its increment, so seqs are
 * dense. Resume cursors and the gateways' catch-up rely on both properties.
 *
 * `client_msg_id` makes sends idempotent per sender, permanently.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('message_log')
    .addColumn('id', 'boolean', (c) => c.primaryKey().defaultTo(true).check(sql`id`))
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
  await sql`alter table messages alter column seq set not null`.execute(db);
  await sql`insert into message_log (id, head) select true, coalesce(max(seq), 0) from messages`.execute(db);

  await sql`create unique index messages_seq_key on messages (seq)`.execute(db);
  await sql`create unique index messages_client_msg_key on messages (sender_id, client_msg_id)
            where client_msg_id is not null`.execute(db);
  // Replay reads one audience at a time in seq order, so each has its own index.
  await sql`create index messages_global_seq_idx on messages (seq) where recipient_id is null and room_id is null`.execute(db);
  await sql`create index messages_room_seq_idx on messages (room_id, seq) where room_id is not null`.execute(db);
  await sql`create index messages_dm_sender_seq_idx on messages (sender_id, seq) where recipient_id is not null`.execute(db);
  await sql`create index messages_dm_recipient_seq_idx on messages (recipient_id, seq) where recipient_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of [
    'messages_dm_recipient_seq_idx',
    'messages_dm_sender_seq_idx',
    'messages_room_seq_idx',
    'messages_global_seq_idx',
    'messages_client_msg_key',
    'messages_seq_key',
  ]) {
    await db.schema.dropIndex(index).execute();
  }
  await db.schema.alterTable('messages').dropColumn('client_msg_id').execute();
  await db.schema.alterTable('messages').dropColumn('seq').execute();
  await db.schema.dropTable('message_log').execute();
}
