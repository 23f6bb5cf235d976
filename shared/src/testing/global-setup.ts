import type { TestProject } from 'vitest/node';
import { createTestDatabase } from './database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
  }
}

/** The server the tests run against; the suite creates its own database there. */
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export default async function setup(project: TestProject) {
  const database = await createTestDatabase({ adminUrl: ADMIN_URL, prefix: `chat_test_${process.pid}`, migrate: true });
  project.provide('databaseUrl', database.url);
  project.provide('adminDatabaseUrl', ADMIN_URL);
  return () => database.drop();
}
