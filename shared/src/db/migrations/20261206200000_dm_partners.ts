import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Who a user has direct conversations with, read by index: presence goes to a
 * user's direct-message partners (docs/architecture.md#presence).
 *
 * `messages_dm_pair_idx` (initial migration) is ordered by the pair's lower id
 * then its higher one, so the partners above a user are one skip scan of it:
 * `least = user`, each next `greatest` a single index probe. This index is the
 * same pair the other way round, for the partners below the user. Together
 * they list a user's partners in one probe each, however many messages the
 * pairs hold.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index messages_dm_pair_high_idx on messages
            (greatest(sender_id, recipient_id), least(sender_id, recipient_id))
            where recipient_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists messages_dm_pair_high_idx`.execute(db);
}
