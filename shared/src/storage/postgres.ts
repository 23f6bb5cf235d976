import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { BlobStore, ByteRange } from './types.ts';

/** Bytes per row of `blob_chunks`: large enough for few rows, small enough to hold one in memory per upload and per download. */
export const CHUNK_BYTES = 256 * 1024;

/**
 * Blobs as rows of `blob_chunks` (the uploads migration), CHUNK_BYTES each, in
 * the cluster's own database. A put buffers one chunk at a time and writes it
 * before reading on; a read fetches one chunk at a time, so memory per
 * transfer stays at a chunk whatever the file's size.
 */
export function createPostgresBlobStore(db: Kysely<DB>): BlobStore {
  return {
    kind: 'postgres',
    async put(key, source) {
      let n = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (data: Buffer) => {
        await db.insertInto('blob_chunks').values({ key, n: n++, data }).execute();
      };
      for await (const piece of source) {
        let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        while (pendingBytes + buf.length >= CHUNK_BYTES) {
          const take = CHUNK_BYTES - pendingBytes;
          await flush(Buffer.concat([...pending, buf.subarray(0, take)]));
          pending = [];
          pendingBytes = 0;
          buf = buf.subarray(take);
        }
        if (buf.length > 0) {
          // Copied: the source may reuse its buffer once we read on.
          pending.push(Buffer.from(buf));
          pendingBytes += buf.length;
        }
      }
      if (pendingBytes > 0 || n === 0) await flush(Buffer.concat(pending));
    },
    async *read(key, size, range?: ByteRange) {
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (size === 0 || end < start) return;
      for (let n = Math.floor(start / CHUNK_BYTES); n <= Math.floor(end / CHUNK_BYTES); n++) {
        const row = await db.selectFrom('blob_chunks').select('data').where('key', '=', key).where('n', '=', n).executeTakeFirst();
        if (!row) throw new Error(`blob ${key} has no chunk ${n}`);
        const offset = n * CHUNK_BYTES;
        yield row.data.subarray(Math.max(start - offset, 0), Math.min(end - offset + 1, row.data.length));
      }
    },
    async remove(key) {
      await db.deleteFrom('blob_chunks').where('key', '=', key).execute();
    },
    async ready() {},
  };
}
