import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout. Credentials never reach the logs: headers that carry
 * them are redacted, and request logs record the path without its query
 * string (a socket client may put its token there).
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
    opts.destination,
  );
}
