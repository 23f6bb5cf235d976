import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUploadService, type UploadView } from '@chat/shared/chat';
import { createLogger } from '@chat/shared/logger';
import type { ChatMessage } from '@chat/shared/model';
import { createBlobStore } from '@chat/shared/storage';
import { metricSample, pdfFile, pngFile, startS3Server, type S3Server } from '@chat/shared/testing';
import { createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../../test/harness.ts';

// POST /api/uploads and GET /api/uploads/{id} on each store (PostgreSQL, and
// S3 on a real S3-compatible server): typed by content, attached by a send,
// downloadable by exactly the message's audience, deleted with it.

let api: TestApi;
let s3server: S3Server | undefined;
/** Whether a stored upload's bytes are still in the store. */
let bytesStored: (id: string) => Promise<boolean>;

// The same checks on both stores: PostgreSQL, and S3 on a SeaweedFS of this file's own.
describe.each(['postgres', 's3'] as const)('uploads stored in %s', (storage) => {
  beforeAll(async () => {
    const limits = { UPLOAD_MAX_BYTES: String(1024 * 1024), UPLOAD_DAILY_BYTES: String(3 * 1024 * 1024) };
    if (storage === 's3') {
      s3server = await startS3Server();
      const s3 = {
        STORAGE: 's3',
        S3_ENDPOINT: s3server.endpoint,
        S3_BUCKET: `uploads-${randomBytes(4).toString('hex')}`,
        S3_ACCESS_KEY_ID: s3server.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3server.secretAccessKey,
      };
      api = await startApi({ ...limits, ...s3 });
    } else {
      api = await startApi(limits);
    }
    const store = createBlobStore(api.config.storage, api.resources.db);
    bytesStored = async (id) => {
      try {
        for await (const piece of store.read(id, 1)) if (piece.byteLength > 0) return true;
        return true;
      } catch {
        return false;
      }
    };
  }, 15 * 60_000);
  afterAll(async () => {
    await api.close();
    await s3server?.stop();
  });

  type Upload = UploadView;

  /** One multipart upload; `type` is what the client claims, which nobody believes. */
  function upload(as: TestUser, bytes: Uint8Array, name: string, type = 'application/octet-stream', to: TestApi = api) {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type }), name);
    return to.fetch('/api/uploads', { method: 'POST', token: as.token, body: form });
  }

  async function uploaded(as: TestUser, bytes: Uint8Array, name: string, to: TestApi = api): Promise<Upload> {
    const res = await upload(as, bytes, name, 'application/octet-stream', to);
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Upload;
  }

  /** The store settings of `of`, for another replica of the same deployment. */
  function storageEnv(of: TestApi): Record<string, string> {
    const st = of.config.storage;
    if (st.kind === 'postgres') return {};
    return {
      STORAGE: 's3',
      S3_ENDPOINT: st.endpoint ?? '',
      S3_BUCKET: st.bucket,
      S3_ACCESS_KEY_ID: st.accessKeyId ?? '',
      S3_SECRET_ACCESS_KEY: st.secretAccessKey ?? '',
    };
  }

  const download = (as: TestUser, id: string, headers: Record<string, string> = {}) => api.fetch(`/api/uploads/${id}`, { token: as.token, headers });
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  describe('POST /api/uploads', () => {
    it('stores an image typed by its content, with its size in pixels and its hash', async () => {
      const alice = await createUser(api);
      const png = pngFile(7, 3);
      const file = await uploaded(alice, png, '../../etc/holiday.png');
      expect(file).toEqual({
        id: expect.any(String) as string,
        name: 'holiday.png',
        size: png.length,
        content_type: 'image/png',
        sha256: sha256(png),
        url: `/api/uploads/${file.id}`,
        width: 7,
        height: 3,
      });
    });

    it('believes the content, not the name or the declared type, and refuses what is not allowed', async () => {
      const alice = await createUser(api);
      // A PDF named and declared as a PNG is a PDF.
      expect((await uploaded(alice, pdfFile(), 'photo.png')).content_type).toBe('application/pdf');
      // A Windows executable declared as an image is refused.
      const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(300, 0x90)]);
      const refused = await upload(alice, exe, 'cat.png', 'image/png');
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ code: 'validation_failed', details: [{ field: 'file' }] });
      // HTML is text: stored as text/plain, and downloaded as an attachment (below).
      expect((await uploaded(alice, Buffer.from('<script>alert(1)</script>'), 'x.html')).content_type).toBe('text/plain');
    });

    it('refuses an empty file, a missing file part and a body that is not multipart', async () => {
      const alice = await createUser(api);
      expect((await upload(alice, new Uint8Array(0), 'empty.txt')).status).toBe(400);
      const form = new FormData();
      form.append('other', 'x');
      expect((await api.fetch('/api/uploads', { method: 'POST', token: alice.token, body: form })).status).toBe(400);
      expect((await api.fetch('/api/uploads', { method: 'POST', token: alice.token, json: { file: 'x' } })).status).toBe(400);
      expect((await api.fetch('/api/uploads', { method: 'POST', body: new FormData() })).status).toBe(401);
    });

    it('counts the bytes stored and the refusals by reason in its metrics', async () => {
      const alice = await createUser(api);
      const metrics = async () => (await fetch(api.metricsUrl)).text();
      const before = await metrics();
      const png = pngFile(3, 3);
      await uploaded(alice, png, 'm.png');
      expect((await upload(alice, Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)]), 'm.exe')).status).toBe(400);
      const after = await metrics();
      const delta = (name: string, labels: Record<string, string> = {}) =>
        (metricSample(after, name, labels) ?? 0) - (metricSample(before, name, labels) ?? 0);
      expect(delta('chat_upload_bytes_total')).toBe(png.length);
      expect(delta('chat_upload_refusals_total', { reason: 'type' })).toBe(1);
    });

    it('refuses a file over UPLOAD_MAX_BYTES with 413 and keeps nothing of it', async () => {
      const alice = await createUser(api);
      const big = pngFile(2, 2, 1024 * 1024 + 10);
      const res = await upload(alice, big, 'big.png');
      expect(res.status).toBe(413);
      const rows = await api.resources.db.selectFrom('uploads').select('id').where('uploader_id', '=', alice.id).execute();
      expect(rows).toEqual([]);
    });

    it('counts bytes per user per day: past UPLOAD_DAILY_BYTES, 429 with Retry-After', async () => {
      const alice = await createUser(api);
      // 3 MiB a day with 1 MiB files: an upload reserves 1 MiB until its size is known.
      const file = pngFile(2, 2, 900 * 1024);
      for (let i = 0; i < 3; i++) await uploaded(alice, file, `f${i}.png`);
      const res = await upload(alice, file, 'one more.png');
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // Someone else is not affected.
      await uploaded(await createUser(api), file, 'theirs.png');
    });
  });

  describe('attachments', () => {
    it('go with a send, reach the message on every read, and are downloadable by its audience only', async () => {
      const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
      const png = pngFile(4, 4);
      const pdf = pdfFile();
      const [image, doc] = [await uploaded(alice, png, 'a.png'), await uploaded(alice, pdf, 'b.pdf')];
      // Before it is attached: the uploader only.
      expect((await download(alice, image.id)).status).toBe(200);
      expect((await download(bob, image.id)).status).toBe(404);

      const message = await sendMessage(api, alice, { content: 'two files', recipient: bob.username, attachments: [doc.id, image.id] });
      expect(message.attachments).toEqual([
        { id: doc.id, name: 'b.pdf', size: pdf.length, content_type: 'application/pdf', url: doc.url },
        { id: image.id, name: 'a.png', size: png.length, content_type: 'image/png', url: image.url, width: 4, height: 4 },
      ]);
      const history = (await (await api.fetch(`/api/messages/between/${alice.id}/${bob.id}`, { token: bob.token })).json()) as {
        messages: ChatMessage[];
      };
      expect(history.messages[0]?.attachments).toEqual(message.attachments);

      const res = await download(bob, image.id);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(png);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('content-disposition')).toBe(`inline; filename="a.png"; filename*=UTF-8''a.png`);
      expect(res.headers.get('etag')).toBe(`"${sha256(png)}"`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      const pdfRes = await download(bob, doc.id);
      expect(pdfRes.headers.get('content-disposition')).toMatch(/^attachment; /);
      expect((await download(carol, image.id)).status).toBe(404);
      expect((await download(carol, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await download(carol, 'nope')).status).toBe(400);
    });

    it('serves ranges and answers a matching If-None-Match with 304', async () => {
      const alice = await createUser(api);
      const png = pngFile(30, 30, 600 * 1024);
      const file = await uploaded(alice, png, 'r.png');
      const part = await download(alice, file.id, { range: 'bytes=262140-262150' });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 262140-262150/${png.length}`);
      expect(Buffer.from(await part.arrayBuffer())).toEqual(png.subarray(262140, 262151));
      const tail = await download(alice, file.id, { range: 'bytes=-5' });
      expect(Buffer.from(await tail.arrayBuffer())).toEqual(png.subarray(png.length - 5));
      // A range outside the file is ignored: the whole file.
      const outside = await download(alice, file.id, { range: `bytes=${png.length}-` });
      expect(outside.status).toBe(200);
      expect(Number(outside.headers.get('content-length'))).toBe(png.length);
      await outside.arrayBuffer();
      expect((await download(alice, file.id, { 'if-none-match': `"${file.sha256}"` })).status).toBe(304);
      const whole = await download(alice, file.id);
      expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(file.sha256);
    });

    it("refuses someone else's upload, one already attached, and more than 10, with the same 400", async () => {
      const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
      const hers = await uploaded(alice, pngFile(1, 1), 'hers.png');
      const send = (as: TestUser, attachments: string[]) =>
        api.fetch('/api/messages', { method: 'POST', token: as.token, json: { content: 'x', attachments } });
      const stolen = await send(bob, [hers.id]);
      expect(stolen.status).toBe(400);
      expect(await stolen.json()).toMatchObject({ details: [{ field: 'attachments' }] });
      expect((await send(alice, [hers.id])).status).toBe(201);
      expect((await send(alice, [hers.id])).status).toBe(400);
      expect(
        (
          await send(
            alice,
            Array.from({ length: 11 }, () => hers.id),
          )
        ).status,
      ).toBe(400);
    });

    it('are deleted with their message: gone for everyone, bytes removed', async () => {
      const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
      const file = await uploaded(alice, pngFile(2, 2), 'gone.png');
      const message = await sendMessage(api, alice, { content: 'soon gone', recipient: bob.username, attachments: [file.id] });
      expect(await bytesStored(file.id)).toBe(true);
      const res = await api.fetch(`/api/messages/${message.id}`, { method: 'DELETE', token: alice.token });
      expect(((await res.json()) as ChatMessage).attachments).toEqual([]);
      expect((await download(bob, file.id)).status).toBe(404);
      expect((await download(alice, file.id)).status).toBe(404);
      await expect.poll(() => bytesStored(file.id)).toBe(false);
    });
  });

  describe('attacks on files', () => {
    it('serves HTML and SVG uploads as plain-text downloads, never as a page', async () => {
      const alice = await createUser(api);
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>');
      for (const [bytes, name] of [
        [Buffer.from('<!doctype html><html><script>fetch("/api/auth/profile")</script></html>'), 'page.html'],
        [svg, 'logo.svg'],
      ] as const) {
        const file = await uploaded(alice, bytes, name);
        const res = await download(alice, file.id);
        expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*sandbox/);
      }
    });

    it('refuses a cross-site upload riding on the session cookie, and any download without a session', async () => {
      const alice = await createUser(api);
      const form = new FormData();
      form.append('file', new Blob([pngFile(1, 1)]), 'x.png');
      const forged = await api.fetch('/api/uploads', {
        method: 'POST',
        body: form,
        headers: { cookie: alice.cookie, origin: 'https://evil.example' },
      });
      expect(forged.status).toBe(403);
      const file = await uploaded(alice, pngFile(1, 1), 'x.png');
      expect((await api.fetch(`/api/uploads/${file.id}`)).status).toBe(401);
    });

    it('does not take a message id for an upload id, nor an upload id for a message', async () => {
      const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
      const message = await sendMessage(api, alice, { content: 'hello', recipient: bob.username });
      expect((await download(bob, message.id)).status).toBe(404);
      const file = await uploaded(alice, pngFile(1, 1), 'x.png');
      expect((await api.fetch(`/api/messages/${file.id}/replies`, { token: alice.token })).status).toBe(404);
      expect(
        (await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content: 'x', attachments: [message.id] } })).status,
      ).toBe(400);
    });
  });

  describe('what is not kept', () => {
    it('removes uploads never attached within UPLOAD_ORPHAN_TTL, and their bytes', async () => {
      const alice = await createUser(api);
      const kept = await uploaded(alice, pngFile(1, 1), 'kept.png');
      const orphan = await uploaded(alice, pngFile(1, 1), 'orphan.png');
      await sendMessage(api, alice, { content: 'keeps one', attachments: [kept.id] });
      // Both a day old: the attached one stays.
      await api.resources.db
        .updateTable('uploads')
        .set({ status_at: new Date(Date.now() - 25 * 3600_000) })
        .where('id', 'in', [kept.id, orphan.id])
        .execute();
      const sweeper = createUploadService({
        db: api.resources.db,
        store: createBlobStore(api.config.storage, api.resources.db),
        limits: api.config.uploads,
        logger: createLogger({ level: 'silent', service: 'test' }),
      });
      expect(await sweeper.sweep()).toBeGreaterThanOrEqual(1);
      expect((await download(alice, orphan.id)).status).toBe(404);
      expect(await bytesStored(orphan.id)).toBe(false);
      expect((await download(alice, kept.id)).status).toBe(200);
    });
  });

  describe('a slow client', () => {
    it('is cut off after UPLOAD_IDLE_TIMEOUT without holding the replica, and nothing of its upload stays', async () => {
      const slow = await startApi({ ...storageEnv(api), UPLOAD_IDLE_TIMEOUT: '300ms', UPLOAD_TIMEOUT: '2s' });
      try {
        const alice = await createUser(slow);
        const boundary = 'x-boundary';
        const socket = connect(Number(new URL(slow.url).port), '127.0.0.1');
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\nContent-Type: text/plain\r\n\r\nsome text`;
        socket.write(
          `POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice.token}\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}`,
        );
        // It sends no more: the replica ends it on its own.
        const started = Date.now();
        await new Promise<void>((resolve) => socket.once('close', () => resolve()));
        expect(Date.now() - started).toBeLessThan(5_000);
        // Meanwhile and after, others are served.
        await uploaded(alice, pngFile(1, 1), 'fine.png', slow);
        await expect
          .poll(async () =>
            (await slow.resources.db.selectFrom('uploads').select('name').where('uploader_id', '=', alice.id).execute()).map((r) => r.name),
          )
          .toEqual(['fine.png']);
      } finally {
        await slow.close();
      }
    });
  });
});
