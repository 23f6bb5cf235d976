import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { TargetRefused, type TargetGuard } from './targets.ts';

/** What one POST came to: a status, or why there was none. */
export type OutboundResult =
  { ok: boolean; status: number; durationMs: number } | { ok: false; status: null; durationMs: number; error: string; refused: boolean };

export interface OutboundOptions {
  guard: TargetGuard;
  timeoutMs: number;
  /** Redirects followed, each target checked again; more is a failure. */
  maxRedirects: number;
  userAgent: string;
}

/** The address lookup every request uses: the guard resolves and refuses, the socket connects to what it approved. */
function guardedLookup(guard: TargetGuard): LookupFunction {
  return (hostname, options, callback) => {
    guard.resolve(hostname).then(
      (addresses) => {
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]?.address ?? '', addresses[0]?.family ?? 4);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 4),
    );
  };
}

type Headers = Record<string, string | number>;

function postOnce(url: URL, body: Buffer, headers: Headers, opts: OutboundOptions, timeoutMs: number): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const given = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^(content-length|user-agent|host)$/i.test(name)));
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...given, 'content-length': body.length, 'user-agent': opts.userAgent },
        lookup: guardedLookup(opts.guard),
        // No connection reuse: each attempt resolves and checks its target again.
        agent: false,
      },
      resolve,
    );
    // One deadline for the whole attempt, redirects included (not per socket read).
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * POSTs `body` to `target`, following redirects (each one's target checked
 * like the first), all within `timeoutMs`. Only the status counts: the
 * answer's body is drained unread (never buffered), and a receiver that keeps
 * sending one is cut off at the deadline.
 */
export async function postTo(target: string, body: Buffer, headers: Headers, opts: OutboundOptions): Promise<OutboundResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const left = () => Math.max(1, opts.timeoutMs - elapsed());
  let url: URL;
  try {
    url = opts.guard.checkUrl(target);
    for (let hop = 0; ; hop++) {
      const res = await postOnce(url, body, headers, opts, left());
      res.resume();
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location) {
        if (hop >= opts.maxRedirects)
          return { ok: false, status: null, durationMs: elapsed(), error: `more than ${opts.maxRedirects} redirects`, refused: false };
        url = opts.guard.checkUrl(new URL(location, url).toString());
        continue;
      }
      return { ok: status >= 200 && status < 300, status, durationMs: elapsed() };
    }
  } catch (error) {
    const refused = error instanceof TargetRefused;
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, status: null, durationMs: elapsed(), error: message.slice(0, 500), refused };
  }
}
