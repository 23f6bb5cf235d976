import { sql } from 'kysely';
import type { Executor } from '../database.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../schema.ts';

export interface UploadRow {
  id: string;
  uploader_id: string;
  name: string;
  status: 'receiving' | 'ready' | 'deleted';
  size: string | null;
  content_type: string | null;
  sha256: string | null;
  width: number | null;
  height: number | null;
  message_id: string | null;
  created_at: Date;
}

const DAY = sql`interval '1 day'`;

/**
 * Starts an upload if the uploader's last 24 hours leave room for `reserve`
 * more bytes: uploads in progress count with their reservation, finished
 * ones with their size. The user's uploads are serialized by an advisory
 * lock for the check, so concurrent uploads cannot all pass it.
 */
export async function reserveUpload(
  db: Kysely<DB>,
  upload: { uploaderId: string; name: string; reserve: number; dailyBytes: number },
): Promise<{ id: string } | { refused: true; retryAt: Date }> {
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('uploads:' || ${upload.uploaderId}::text, 0))`.execute(tx);
    const { rows } = await sql<{ used: string; oldest: Date | null }>`
      select coalesce(sum(coalesce(size, reserved)), 0) as used, min(created_at) as oldest
      from uploads where uploader_id = ${upload.uploaderId} and created_at > now() - ${DAY}`.execute(tx);
    const used = Number(rows[0]?.used ?? 0);
    if (used + upload.reserve > upload.dailyBytes) {
      return { refused: true as const, retryAt: new Date((rows[0]?.oldest ?? new Date()).getTime() + 24 * 3600_000) };
    }
    const row = await tx
      .insertInto('uploads')
      .values({ uploader_id: upload.uploaderId, name: upload.name, reserved: upload.reserve })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id };
  });
}

/** The upload's bytes are stored: what they are. */
export async function completeUpload(
  db: Executor,
  id: string,
  done: { size: number; contentType: string; sha256: string; width: number | null; height: number | null },
): Promise<UploadRow> {
  return db
    .updateTable('uploads')
    .set({
      status: 'ready',
      size: done.size,
      content_type: done.contentType,
      sha256: done.sha256,
      width: done.width,
      height: done.height,
      status_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A failed upload's row (its bytes are the caller's to remove). */
export async function dropUpload(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('uploads').where('id', '=', id).execute();
}

export async function findUpload(db: Executor, id: string): Promise<UploadRow | undefined> {
  return db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Marks for removal the uploads that are past keeping: never attached within
 * `orphanTtlMs` of their last change (a crashed upload's `receiving` row
 * too). The row locks it takes conflict with a send attaching one of them, and
 * a send attaches only `ready` ones: an upload is attached or removed, never
 * both.
 */
export async function expireUnattached(db: Executor, orphanTtlMs: number, limit: number): Promise<number> {
  const { rows } = await sql<{ id: string }>`
    update uploads set status = 'deleted', status_at = now()
    where id in (
      select id from uploads
      where (message_id is null or status = 'deleted') and status <> 'deleted'
        and status_at < now() - make_interval(secs => ${orphanTtlMs / 1000})
      for update skip locked
      limit ${limit}
    )
    returning id`.execute(db);
  return rows.length;
}

/** Up to `limit` deleted uploads whose bytes are to be removed. */
export async function listDeleted(db: Executor, limit: number): Promise<string[]> {
  const rows = await db.selectFrom('uploads').select('id').where('status', '=', 'deleted').orderBy('status_at').limit(limit).execute();
  return rows.map((r) => r.id);
}

/** The row of a deleted upload, once its bytes are gone. */
export async function forgetDeleted(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('uploads').where('id', '=', id).where('status', '=', 'deleted').execute();
}
