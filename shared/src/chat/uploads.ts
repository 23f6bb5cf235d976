import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { messageVisibleTo } from '../db/queries/messages.ts';
import {
  completeUpload,
  dropUpload,
  expireUnattached,
  findUpload,
  forgetDeleted,
  listDeleted,
  reserveUpload,
  type UploadRow,
} from '../db/queries/uploads.ts';
import { DomainError, invalid, notFound, rateLimited } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Actor } from '../model/index.ts';
import { HEAD_BYTES, sniff, type Sniffed } from '../storage/sniff.ts';
import { INLINE_TYPES, type BlobStore, type ByteRange } from '../storage/types.ts';
import { parseInput } from '../validation.ts';
import { id } from './schemas.ts';
import { requireScope } from '../auth/scopes.ts';

export interface UploadView {
  id: string;
  name: string;
  size: number;
  content_type: string;
  sha256: string;
  url: string;
  width?: number;
  height?: number;
}

export interface UploadLimits {
  /** UPLOAD_MAX_BYTES: one file. */
  maxBytes: number;
  /** UPLOAD_DAILY_BYTES: one user's uploads over any 24 hours. */
  dailyBytes: number;
  /** UPLOAD_ALLOWED_TYPES: what a file's content may show itself to be. */
  allowedTypes: readonly string[];
  /** UPLOAD_ORPHAN_TTL: how long an upload no message carries is kept. */
  orphanTtlMs: number;
}

export interface Download {
  upload: UploadView;
  /** Whether a browser may show it in place: a safe image type; everything else is served as a download. */
  inline: boolean;
  /** Its bytes, or a range of them. */
  read(range?: ByteRange): AsyncIterable<Uint8Array>;
}

export interface UploadService {
  /**
   * Stores a file as it streams in: counted against the sender's daily bytes
   * before a byte is stored, refused past UPLOAD_MAX_BYTES, typed by its
   * content (its first bytes, never the client's word) and refused unless
   * that type is allowed. Memory stays at the head kept for sniffing plus
   * the store's buffer, whatever the file's size.
   */
  receive(actor: Actor, file: { name: string; data: AsyncIterable<Uint8Array> }): Promise<UploadView>;
  /**
   * A file for whoever may have it: its uploader until it is attached, then
   * whoever can see a message that carries it. Everyone else, and every id
   * that names nothing, gets the same 404.
   */
  open(actor: Actor, rawId: unknown): Promise<Download>;
  /** Marks the uploads kept past UPLOAD_ORPHAN_TTL without a message deleted, then removes the bytes of deleted ones; returns how many were removed. */
  sweep(): Promise<number>;
  /** Removes the bytes of deleted uploads now (a message deletion calls it); returns how many. */
  purgeDeleted(): Promise<number>;
}

const uploadId = id('upload id');
/** File names keep letters, digits, spaces and punctuation people use; at most this many characters. */
const MAX_NAME = 200;

/**
 * A file name as shown and sent back in Content-Disposition: its last path
 * component only, no control or bidirectional-override characters, trimmed and
 * cut to MAX_NAME characters; `file` when nothing is left.
 */
export function sanitizeName(raw: string): string {
  const base = raw.split(/[/\\]/).at(-1) ?? '';
  const cleaned = [...base.normalize('NFC').replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, '')].slice(0, MAX_NAME).join('').trim().replace(/^\.+$/, '');
  return cleaned || 'file';
}

const presentUpload = (row: UploadRow): UploadView => ({
  id: row.id,
  name: row.name,
  size: Number(row.size ?? 0),
  content_type: row.content_type ?? 'application/octet-stream',
  sha256: row.sha256 ?? '',
  url: `/api/uploads/${row.id}`,
  ...(row.width !== null && row.height !== null ? { width: row.width, height: row.height } : {}),
});

/**
 * Runs the sweep every `intervalMs` (each API replica does; they share the
 * work through row locks taken with SKIP LOCKED). Errors are logged: the next
 * sweep tries again.
 */
export function startUploadSweep(uploads: Pick<UploadService, 'sweep'>, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = uploads.sweep().catch((error: unknown) => logger.warn({ err: error }, 'upload sweep failed'));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** Removals per sweep: the sweep runs again soon enough. */
const SWEEP_BATCH = 100;

/**
 * Removes the bytes of deleted uploads, then their rows: what a message
 * deletion (both services) and the sweep call. A failure leaves the row for
 * the next call. Returns how many were removed.
 */
export function createFilePurge(deps: { db: Kysely<DB>; store: BlobStore; logger: Logger }): () => Promise<number> {
  return async () => {
    let removed = 0;
    for (const key of await listDeleted(deps.db, SWEEP_BATCH)) {
      try {
        await deps.store.remove(key);
        await forgetDeleted(deps.db, key);
        removed++;
      } catch (error) {
        deps.logger.warn({ err: error, upload: key }, "removing a deleted upload's bytes failed; the next sweep tries again");
      }
    }
    return removed;
  };
}

export function createUploadService(deps: {
  db: Kysely<DB>;
  store: BlobStore;
  limits: UploadLimits;
  logger: Logger;
  metrics?: Pick<Metrics, 'uploadBytes' | 'uploadRefusals'>;
}): UploadService {
  const { db, store, limits, logger } = deps;
  const allowed = new Set(limits.allowedTypes);
  const refused = (reason: string) => deps.metrics?.uploadRefusals.inc({ reason });
  const purgeDeleted = createFilePurge({ db, store, logger });

  return {
    async receive(actor, file) {
      requireScope(actor, 'messages:write');
      const name = sanitizeName(file.name);
      const reservation = await reserveUpload(db, { uploaderId: actor.id, name, reserve: limits.maxBytes, dailyBytes: limits.dailyBytes });
      if ('refused' in reservation) {
        refused('daily_bytes');
        throw rateLimited('daily upload allowance used up', Math.max(1, Math.ceil((reservation.retryAt.getTime() - Date.now()) / 1000)));
      }
      const key = reservation.id;
      const hash = createHash('sha256');
      let size = 0;
      let head: Buffer[] = [];
      let headBytes = 0;
      let sniffed: Sniffed | undefined;
      /** Why the checks stopped the upload: the store may hand back its own error for it. */
      let stopped: unknown;

      const decide = async (complete: boolean) => {
        const found = await sniff(Buffer.concat(head), complete);
        head = [];
        if (found.contentType === undefined || !allowed.has(found.contentType)) {
          refused('type');
          throw invalid('file type not allowed', [
            { field: 'file', message: `its content is ${found.contentType ?? 'of no known type'}; allowed: ${[...allowed].join(', ')}` },
          ]);
        }
        return found;
      };
      // The bytes on their way to the store, checked as they pass.
      async function* checked() {
        try {
          yield* checks();
        } catch (error) {
          stopped = error;
          throw error;
        }
      }
      async function* checks() {
        for await (const piece of file.data) {
          size += piece.byteLength;
          if (size > limits.maxBytes) {
            refused('size');
            throw new DomainError('payload_too_large', `files are limited to ${limits.maxBytes} bytes`);
          }
          hash.update(piece);
          if (sniffed === undefined) {
            head.push(Buffer.from(piece));
            headBytes += piece.byteLength;
            if (headBytes >= HEAD_BYTES) sniffed = await decide(false);
          }
          yield piece;
        }
        if (size === 0) {
          refused('empty');
          throw invalid('invalid upload', [{ field: 'file', message: 'the file is empty' }]);
        }
        sniffed ??= await decide(true);
      }

      try {
        await store.put(key, checked());
        const type = sniffed;
        if (type?.contentType === undefined) throw new Error('upload stored without a type');
        const row = await completeUpload(db, key, {
          size,
          contentType: type.contentType,
          sha256: hash.digest('hex'),
          width: type.width ?? null,
          height: type.height ?? null,
        });
        deps.metrics?.uploadBytes.inc(size);
        return presentUpload(row);
      } catch (error) {
        // Nothing of a failed upload stays: its bytes, then its row (and with it its reservation).
        await store.remove(key).catch((e: unknown) => logger.warn({ err: e, upload: key }, "removing a failed upload's bytes failed"));
        await dropUpload(db, key).catch((e: unknown) => logger.warn({ err: e, upload: key }, "removing a failed upload's row failed"));
        throw stopped ?? error;
      }
    },

    async open(actor, rawId) {
      requireScope(actor, 'messages:read');
      const row = await findUpload(db, parseInput(uploadId, rawId, 'invalid upload id'));
      const mayHave =
        row?.status === 'ready' && (row.message_id === null ? row.uploader_id === actor.id : await messageVisibleTo(db, actor.id, row.message_id));
      if (!row || !mayHave) throw notFound('upload');
      const upload = presentUpload(row);
      return {
        upload,
        inline: INLINE_TYPES.has(upload.content_type),
        read: (range) => store.read(row.id, upload.size, range),
      };
    },

    async sweep() {
      await expireUnattached(db, limits.orphanTtlMs, SWEEP_BATCH);
      return purgeDeleted();
    },

    purgeDeleted,
  };
}
