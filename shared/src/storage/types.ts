/**
 * Where the bytes of uploads live, behind one interface: PostgreSQL by
 * default (postgres.ts: the cluster's database, nothing new to run), or an
 * S3-compatible object store (s3.ts) chosen by STORAGE. Keys are upload ids.
 * Both stream: neither holds a whole file in memory.
 */
export interface BlobStore {
  readonly kind: 'postgres' | 's3';
  /** Stores what `source` yields under `key`, reading it no faster than it stores it. */
  put(key: string, source: AsyncIterable<Uint8Array>): Promise<void>;
  /** The bytes of `key` from `start` to `end` inclusive (the whole object when no range is given); `size` is the object's. */
  read(key: string, size: number, range?: ByteRange): AsyncIterable<Uint8Array>;
  /** Removes `key`; nothing happens when there is none. */
  remove(key: string): Promise<void>;
  /** Readiness: the store answers (the S3 bucket exists, created if missing). */
  ready(): Promise<void>;
}

export interface ByteRange {
  start: number;
  end: number;
}

/** Images a browser shows without running anything in them: served inline. Everything else is served as a download. */
export const INLINE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** UPLOAD_ALLOWED_TYPES by default. */
export const DEFAULT_ALLOWED_TYPES = [...INLINE_TYPES, 'application/pdf', 'text/plain', 'application/zip'];
