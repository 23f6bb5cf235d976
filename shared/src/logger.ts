import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout. Credentials never reach the logs: headers that carry
 * them are redacted, and request logs record the path without its query
 * string (a socket client may put its token there).
 *
 * stdout is written asynchronously: lines logged while a write is under way go
 * out together in the next one, so a connection storm (a line per connect and
 * per disconnect) costs a write per batch instead of a system call per line,
 * and a slow reader of the pipe never blocks the event loop. pino flushes what
 * is left synchronously when the process exits.
 */
export function createLogger(opts: { level: string; service: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: opts.service },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.token', '*.password'],
        censor: '[redacted]',
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
