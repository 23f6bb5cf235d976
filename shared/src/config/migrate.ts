import { ConfigError, type Env } from './env.ts';
import { readDatabaseConfig, type DatabaseConfig } from './common.ts';

/** The migration command needs only the database. */
export function loadMigrateConfig(env: Env): DatabaseConfig {
  const problems: string[] = [];
  const database = readDatabaseConfig(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return database;
}
