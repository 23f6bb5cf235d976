import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Token revocations in PostgreSQL, so they survive a Redis that restarts
 * empty (Redis only caches them).
 *
 * `revoked_tokens`: one row per revoked token id, kept until the token would
 * have expired anyway (expired rows are purged opportunistically). Its primary
 * key is also the gate that lets a token be refreshed (consumed) only once.
 *
 * `users.tokens_valid_after`: "log out everywhere". A token issued (`iat`)
 * before this instant is refused.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('revoked_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey().check(sql`char_length(jti) between 1 and 200`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('revoked_tokens_expires_idx').on('revoked_tokens').column('expires_at').execute();

  await db.schema.alterTable('users').addColumn('tokens_valid_after', 'timestamptz').execute();
  await sql`create index users_tokens_valid_after_idx on users (tokens_valid_after) where tokens_valid_after is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists users_tokens_valid_after_idx`.execute(db);
  await db.schema.alterTable('users').dropColumn('tokens_valid_after').execute();
  await db.schema.dropTable('revoked_tokens').execute();
}
