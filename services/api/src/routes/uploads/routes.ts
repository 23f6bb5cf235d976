import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import type { UploadService } from '@chat/shared/chat';
import { uploadSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json } from '../../openapi/responses.ts';
import { withUploadedFile, type MultipartLimits } from './multipart.ts';
import { parseRange, uploadParams } from './schema.ts';

const tags = ['uploads'];

/** What a downloaded file may do in a browser: nothing (no script, no plugin, no frame, a sandbox of its own). */
const FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

const binary = (description: string) => ({
  description,
  content: { 'application/octet-stream': { schema: { type: 'string' as const, format: 'binary' } } },
});

/** `filename` for old clients (ASCII, quotes and backslashes dropped) and `filename*` with the real name. */
function disposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function uploadRoutes(deps: { uploads: UploadService; limits: MultipartLimits }) {
  const { uploads, limits } = deps;
  return new Hono<AppEnv>()
    .post(
      '/',
      describeRoute({
        tags,
        summary: 'Upload a file',
        description:
          "`multipart/form-data` with a part named `file`. The file's type is read from its content (never from its name or Content-Type) and must be one of UPLOAD_ALLOWED_TYPES; at most UPLOAD_MAX_BYTES (413), at most UPLOAD_DAILY_BYTES a user per 24 hours (429). Attach it to a message within UPLOAD_ORPHAN_TTL (`attachments: [id]` on a send), or it is removed.",
        ...AUTHENTICATED,
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } },
            },
          },
        },
        responses: { 201: json(uploadSchema, 'Stored'), ...errors(400, 401, 403, 413, 429, ...ALWAYS) },
      }),
      async (c) => {
        const request = { contentType: c.req.header('content-type') ?? '', body: c.req.raw.body, drop: () => c.env.incoming?.destroy() };
        const upload = await withUploadedFile(request, limits, (file) => uploads.receive(c.get('claims'), file));
        return c.json(upload, 201);
      },
    )
    .get(
      '/:id',
      describeRoute({
        tags,
        summary: 'Download a file',
        description:
          'For its uploader until it is attached, then for whoever can see a message that carries it; 404 for everyone else. `ETag` (its SHA-256) and `If-None-Match`, one `Range` per request (206; a range outside the file is ignored: the whole file, 200), `X-Content-Type-Options: nosniff`, a sandboxing Content-Security-Policy; anything but a PNG, JPEG, GIF or WebP image comes as `Content-Disposition: attachment`.',
        ...AUTHENTICATED,
        responses: {
          200: binary('The file'),
          206: binary('The range asked for (`Content-Range`)'),
          304: { description: 'Not modified (`If-None-Match` matched)' },
          ...errors(400, 401, 403, 404, ...ALWAYS),
        },
      }),
      params(uploadParams),
      async (c) => {
        const file = await uploads.open(c.get('claims'), c.req.valid('param').id);
        const { upload } = file;
        const etag = `"${upload.sha256}"`;
        const headers = new Headers({
          ETag: etag,
          'Accept-Ranges': 'bytes',
          'Cache-Control': 'private, no-cache',
          'X-Content-Type-Options': 'nosniff',
          'Content-Security-Policy': FILE_CSP,
          'Cross-Origin-Resource-Policy': 'same-origin',
          'Content-Type': upload.content_type === 'text/plain' ? 'text/plain; charset=utf-8' : upload.content_type,
          'Content-Disposition': disposition(file.inline ? 'inline' : 'attachment', upload.name),
        });
        if (
          c.req
            .header('if-none-match')
            ?.split(',')
            .some((tag) => tag.trim() === etag)
        )
          return new Response(null, { status: 304, headers });
        const range = parseRange(c.req.header('range'), upload.size);
        headers.set('Content-Length', String(range ? range.end - range.start + 1 : upload.size));
        if (range) headers.set('Content-Range', `bytes ${range.start}-${range.end}/${upload.size}`);
        return new Response(ReadableStream.from(file.read(range)), { status: range ? 206 : 200, headers });
      },
    );
}
