import { createHmac, randomBytes } from 'node:crypto';

/**
 * Webhook signatures as the Standard Webhooks specification has them
 * (standardwebhooks.com), so receivers can use its libraries or the few lines
 * in docs/webhooks.md: HMAC-SHA256, keyed with the secret's bytes, over
 * `<webhook-id>.<webhook-timestamp>.<body>`, base64, sent as
 * `webhook-signature: v1,<signature>`. The id is the log entry's (the same on
 * every retry, so receivers deduplicate by it); the timestamp is the
 * attempt's, so a receiver refuses replays older than its tolerance.
 */
const SECRET_PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The headers of one attempt. */
export function signedHeaders(secret: string, id: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}
