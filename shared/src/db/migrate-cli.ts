import { loadMigrateConfig } from '../config/migrate.ts';
import { loadOrExit } from '../config/env.ts';
import { createLogger } from '../logger.ts';
import { createDatabase } from './database.ts';
import { migrateToLatest } from './migrate.ts';

// `npm run db:migrate`: applies pending migrations and exits non-zero on failure.
const config = loadOrExit(() => loadMigrateConfig(process.env));

// The pool's connection errors go to a logger; the command's own output stays plain lines.
const db = createDatabase({ ...config, poolMax: 1 }, createLogger({ level: 'warn', service: 'migrate' }));
try {
  const { error, results = [] } = await migrateToLatest(db);
  for (const r of results) console.log(`migration ${r.migrationName}: ${r.status}`);
  if (results.length === 0 && !error) console.log('migrations: already up to date');
  if (error) {
    console.error('migration failed:', error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
} finally {
  await db.destroy();
}
