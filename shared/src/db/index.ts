// Connections and migrations only: queries are reached through the chat and auth rules.
export { createDatabase, type Executor } from './database.ts';
export { migrateToLatest } from './migrate.ts';
export type { DB } from './schema.ts';
