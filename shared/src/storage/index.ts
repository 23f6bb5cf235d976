// Where uploads' bytes live: PostgreSQL by default, an S3-compatible store by configuration.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { createPostgresBlobStore } from './postgres.ts';
import { createS3BlobStore, type S3Settings } from './s3.ts';
import type { BlobStore } from './types.ts';

/** The store STORAGE names. */
export function createBlobStore(settings: { kind: 'postgres' } | ({ kind: 's3' } & S3Settings), db: Kysely<DB>): BlobStore {
  return settings.kind === 's3' ? createS3BlobStore(settings) : createPostgresBlobStore(db);
}

export * from './postgres.ts';
export * from './s3.ts';
export * from './sniff.ts';
export * from './types.ts';
