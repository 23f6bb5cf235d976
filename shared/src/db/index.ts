// Connections and migrations only: queries are reached through the chat and auth rules.
export { createDatabase } from './database.ts';
export { migrateToLatest } from './migrate.ts';
