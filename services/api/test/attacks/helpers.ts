import { generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { ERROR_CODES } from '@chat/shared/errors';

// Shared by the attack suite (services/api/test/attacks/*.test.ts and
// services/gateway/test/attacks.test.ts; inventory in docs/security.md).

/** What a stack trace, a source path or an internal error name would leave in a body or frame. */
export const LEAK = /\bat .+:\d+|\.ts\b|node_modules|\/work\/|\/src\/|Error:|ReplyError|SQLSTATE|syntax error at|relation "/;

/** The claims the API issues (shared/src/auth/tokens.ts), for tests that forge variations of them. */
const ISSUER = 'chat-api';
const AUDIENCE = 'chat-clients';

export interface ForgeOptions {
  /** HS256 by default; HS512 is signed with the real secret too (algorithm confusion). */
  alg?: 'HS256' | 'HS512';
  /** Signs with this secret instead of the server's. */
  secret?: string;
  /** Claims to add or replace; `undefined` removes one. */
  claims?: Record<string, unknown>;
}

/** A token like the API's own (same secret, issuer, audience), with one thing changed. */
export async function forgeToken(serverSecret: string, user: { id: string; username: string }, opts: ForgeOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const base: Record<string, unknown> = {
    username: user.username,
    sub: user.id,
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 3600,
    jti: crypto.randomUUID(),
  };
  const payload = Object.fromEntries(Object.entries({ ...base, ...opts.claims }).filter(([, v]) => v !== undefined)) as JWTPayload;
  const alg = opts.alg ?? 'HS256';
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(opts.secret ?? serverSecret));
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `alg: none`: the payload of a real token, no signature at all. */
export function unsignedToken(realToken: string): string {
  const payload = realToken.split('.')[1] as string;
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`;
}

/** A real token whose payload was edited (here: another user's id) while keeping the original signature. */
export function tamperedToken(realToken: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = realToken.split('.') as [string, string, string];
  const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${b64url({ ...decoded, ...claims })}.${signature}`;
}

/** RS256 with a key pair of the attacker's own: the server must not take an asymmetric token. */
export async function rs256Token(user: { id: string; username: string }): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setSubject(user.id)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}

/** A refusal: this status, a JSON error body with a known code (and this one, if given), and nothing leaked. */
export async function expectRefused(res: Response, status: number, code?: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(text).not.toMatch(LEAK);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(typeof body.error).toBe('string');
  expect(ERROR_CODES).toContain(body.code);
  if (code) expect(body.code).toBe(code);
  return body;
}

/** A client error of any kind (4xx JSON without a leak): for input whose exact status is a detail. */
export async function expectClientError(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, text).toBeGreaterThanOrEqual(400);
  expect(res.status, text).toBeLessThan(500);
  expect(text).not.toMatch(LEAK);
  return JSON.parse(text) as Record<string, unknown>;
}

/** `[[[...]]]` nested `depth` deep: JSON that a recursive parser or validator would choke on. */
export const nestedArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
export const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Content that must come back byte for byte, and never be interpreted on the way. */
export const HOSTILE_CONTENT = [
  "'; drop table messages; --",
  "' or '1'='1",
  "x'); delete from users where ('1'='1",
  '<script>alert(document.cookie)</script>',
  '<img src=x onerror=alert(1)>',
  '{{constructor.constructor("return process")()}}',
  '${7*7} %s %n \\u0000',
];
