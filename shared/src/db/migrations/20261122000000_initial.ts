import { sql, type Kysely } from 'kysely';

// Migrations never import application code: they must keep describing the
// schema as it was when they were written.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('username', 'text', (c) => c.notNull().check(sql`char_length(username) between 3 and 32`))
    .addColumn('email', 'text', (c) => c.notNull().check(sql`char_length(email) between 3 and 254`))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Case-insensitive uniqueness: "Alice" and "alice" are the same account.
  await sql`create unique index users_username_key on users (lower(username))`.execute(db);
  await sql`create unique index users_email_key on users (lower(email))`.execute(db);

  await db.schema
    .createTable('rooms')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull().check(sql`char_length(name) between 1 and 100`))
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('room_members')
    .addColumn('room_id', 'uuid', (c) => c.notNull().references('rooms.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('joined_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('room_members_pkey', ['room_id', 'user_id'])
    .execute();
  // "A user's rooms" and the membership check on every room message.
  await db.schema.createIndex('room_members_user_idx').on('room_members').columns(['user_id', 'room_id']).execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('sender_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('recipient_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('room_id', 'uuid', (c) => c.references('rooms.id').onDelete('cascade'))
    .addColumn('content', 'text', (c) => c.notNull().check(sql`content <> ''`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addCheckConstraint('messages_one_audience', sql`recipient_id is null or room_id is null`)
    .execute();

  // Every listing reads newest first with (created_at, id) as the cursor, so
  // each index ends in those two columns.
  await sql`create index messages_global_idx on messages (created_at desc, id desc)
            where recipient_id is null and room_id is null`.execute(db);
  await sql`create index messages_room_idx on messages (room_id, created_at desc, id desc)
            where room_id is not null`.execute(db);
  // A direct conversation is keyed by its unordered pair of users.
  await sql`create index messages_dm_pair_idx on messages
            (least(sender_id, recipient_id), greatest(sender_id, recipient_id), created_at desc, id desc)
            where recipient_id is not null`.execute(db);
  await sql`create index messages_dm_sender_idx on messages (sender_id, created_at desc, id desc)
            where recipient_id is not null`.execute(db);
  await sql`create index messages_dm_recipient_idx on messages (recipient_id, created_at desc, id desc)
            where recipient_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('messages').execute();
  await db.schema.dropTable('room_members').execute();
  await db.schema.dropTable('rooms').execute();
  await db.schema.dropTable('users').execute();
}
