import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

/**
 * Access tokens for bots and scripts, and bot users. A token is stored as the
 * SHA-256 of its secret only (shown once, at creation), with the scopes it
 * grants and when it stops working. A bot is a user owned by a person
 * (`owner_id`); it has no usable password (`kind = 'bot'` refuses a login), so
 * it can only use tokens, which its owner creates.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('kind', 'text', (c) =>
      c
        .notNull()
        .defaultTo('person')
        .check(sql`kind in ('person', 'bot')`),
    )
    .addColumn('owner_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .execute();
  await sql`create index users_owner_idx on users (owner_id) where owner_id is not null`.execute(db);

  await db.schema
    .createTable('access_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_by', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('scopes', sql`text[]`, (c) => c.notNull().check(sql`cardinality(scopes) > 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('access_tokens_user_idx').on('access_tokens').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('access_tokens').execute();
  await sql`drop index users_owner_idx`.execute(db);
  await db.schema.alterTable('users').dropColumn('owner_id').dropColumn('kind').execute();
}
