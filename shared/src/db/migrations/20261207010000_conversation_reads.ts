import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Read positions: how far each user has read each of their conversations.
 * `conversation` is the conversation as its reader names it (`global`,
 * `user:<the other user's id>`, `room:<room id>`), so a direct conversation
 * has one row per side. The position is a message of the conversation and
 * its `created_at`, the order history pages in: unread counts are an index
 * range of the conversation's history after (message_created_at, message_id).
 * A position only moves forward (the upsert's `where`), so two tabs that mark
 * in either order end at the later message.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('conversation_reads')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('conversation', 'text', (c) => c.notNull())
    .addColumn('message_id', 'uuid', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('message_created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('conversation_reads_pkey', ['user_id', 'conversation'])
    .addCheckConstraint('conversation_reads_conversation', sql`conversation ~ '^(global|user:[0-9a-f-]{36}|room:[0-9a-f-]{36})$'`)
    .execute();
  // A room's members' positions, a page at a time (GET /api/conversations/{id}/reads).
  await db.schema.createIndex('conversation_reads_conversation_idx').on('conversation_reads').columns(['conversation', 'user_id']).execute();
  // A direct conversation's newest message is one probe of either pair index: the planner takes the narrower
  // one when it expects few rows per pair, so that one is ordered newest first too (it was a sort of the pair).
  await sql`drop index messages_dm_pair_high_idx`.execute(db);
  await sql`create index messages_dm_pair_high_idx on messages
            (greatest(sender_id, recipient_id), least(sender_id, recipient_id), created_at desc, id desc)
            where recipient_id is not null`.execute(db);
  // The cascade from messages: find the positions on a message being removed without a scan.
  await db.schema.createIndex('conversation_reads_message_idx').on('conversation_reads').column('message_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('conversation_reads').execute();
  await sql`drop index messages_dm_pair_high_idx`.execute(db);
  await sql`create index messages_dm_pair_high_idx on messages
            (greatest(sender_id, recipient_id), least(sender_id, recipient_id))
            where recipient_id is not null`.execute(db);
}
