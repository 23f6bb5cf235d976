import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../db/database.ts';
import { startS3Server, type S3Server } from '../testing/seaweedfs.ts';
import { CHUNK_BYTES, createPostgresBlobStore } from './postgres.ts';
import { createS3BlobStore } from './s3.ts';
import type { BlobStore } from './types.ts';

// The two blob stores behind one interface, with the same checks: PostgreSQL
// (the test database) and S3 against a real S3-compatible server, SeaweedFS,
// that this file starts on free ports of its own (built from its Go module by
// scripts/ci/seaweedfs.sh, cached outside the clone).

const db = createDatabase({ url: inject('databaseUrl'), poolMax: 4 });
let s3server: S3Server;
let s3: BlobStore & { close(): void };

beforeAll(async () => {
  s3server = await startS3Server();
  s3 = createS3BlobStore({
    endpoint: s3server.endpoint,
    region: s3server.region,
    bucket: `test-${randomBytes(4).toString('hex')}`,
    accessKeyId: s3server.accessKeyId,
    secretAccessKey: s3server.secretAccessKey,
    forcePathStyle: true,
  });
  // The bucket does not exist yet: ready() creates it.
  await s3.ready();
}, 15 * 60_000);

afterAll(async () => {
  s3?.close();
  await s3server?.stop();
  await db.destroy();
});

/** `bytes` handed over in pieces of odd sizes, each in a turn of its own, as a socket would. */
async function* pieces(bytes: Buffer, size = 65_521) {
  for (let i = 0; i < bytes.length; i += size) {
    await new Promise((resolve) => setImmediate(resolve));
    yield bytes.subarray(i, i + size);
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of source) parts.push(Buffer.from(piece));
  return Buffer.concat(parts);
}

const stores: Array<[string, () => BlobStore]> = [
  ['PostgreSQL', () => createPostgresBlobStore(db)],
  ['S3 (SeaweedFS)', () => s3],
];

describe.each(stores)('the %s blob store', (_name, store) => {
  it('stores a stream of several chunks and reads it back whole and by ranges', async () => {
    const key = crypto.randomUUID();
    const bytes = randomBytes(CHUNK_BYTES * 5 + 12_345);
    await store().put(key, pieces(bytes));
    expect((await collect(store().read(key, bytes.length))).equals(bytes)).toBe(true);
    for (const [start, end] of [
      [0, 0],
      [CHUNK_BYTES - 3, CHUNK_BYTES + 3],
      [CHUNK_BYTES * 2, CHUNK_BYTES * 4 - 1],
      [bytes.length - 10, bytes.length - 1],
    ] as const) {
      expect((await collect(store().read(key, bytes.length, { start, end }))).equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    await store().remove(key);
    await expect(collect(store().read(key, bytes.length))).rejects.toThrow();
    // Removing twice is harmless.
    await store().remove(key);
  });

  it('stores nothing under a key whose source fails, once the caller removes it', async () => {
    const key = crypto.randomUUID();
    async function* failing() {
      yield* pieces(randomBytes(CHUNK_BYTES + 1));
      throw new Error('client went away');
    }
    await expect(store().put(key, failing())).rejects.toThrow();
    await store().remove(key);
    await expect(collect(store().read(key, 10))).rejects.toThrow();
  });
});
