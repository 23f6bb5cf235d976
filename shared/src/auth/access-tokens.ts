import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { isUniqueViolation } from '../db/database.ts';
import type { DB } from '../db/schema.ts';
import {
  deleteAccessToken,
  findAccessTokenByHash,
  insertAccessToken,
  insertBot,
  listAccessTokens,
  listBots,
  type AccessTokenRow,
} from '../db/queries/access-tokens.ts';
import { conflict, notFound, unauthenticated } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import type { Limiter } from '../limits/rate-limits.ts';
import type { Actor } from '../model/actor.ts';
import { id, text, username } from '../chat/schemas.ts';
import { parseInput } from '../validation.ts';
import type { RevocationList } from './revocation.ts';
import { requireSession, SCOPES } from './scopes.ts';
import type { TokenClaims } from './tokens.ts';

/** What every access token starts with: it tells them from session tokens (JWTs) at a glance, and secret scanners can find leaked ones. */
export const ACCESS_TOKEN_PREFIX = 'chat_pat_';

/** A verified token is remembered this long; a deleted one is refused at once anyway by the revocation list. */
const VERIFIED_TTL_MS = 30_000;
const VERIFIED_CACHE_SIZE = 10_000;
/** How long a deleted token's id stays in the revocation list: longer than any cache of it lives. */
const REVOKED_FOR_S = 24 * 3600;

export interface AccessTokenView {
  id: string;
  name: string;
  /** Who the token acts as: the caller, or one of the caller's bots. */
  user_id: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

const scopesInput = z
  .array(z.enum(SCOPES, { error: `scopes are ${SCOPES.join(', ')}` }), { error: 'scopes must be a list' })
  .min(1, 'at least one scope')
  .transform((s) => [...new Set(s)]);

export const createTokenInput = z.object({
  name: text('name', 1, 100),
  scopes: scopesInput,
  expires_in: z
    .number({ error: 'expires_in must be a number of seconds' })
    .int()
    .min(60, 'expires_in is at least 60 seconds')
    .max(366 * 24 * 3600, 'expires_in is at most a year')
    .optional()
    .meta({ description: 'Seconds until the token stops working; without it, it works until deleted' }),
  user_id: id('user_id').optional().meta({ description: 'One of your bots, to create a token for it; yourself when absent' }),
});

export const createBotInput = z.object({
  username,
  scopes: scopesInput.default([...SCOPES]).meta({ description: "The first token's scopes (all by default)" }),
});

export interface AccessTokens {
  /** A token string that starts with ACCESS_TOKEN_PREFIX, as claims with its scopes; 401 when it names nothing or has expired. */
  verify(token: string): Promise<TokenClaims>;
  /** A new token for the caller or one of their bots: the secret is in `token`, here and never again. */
  create(actor: Actor, input: unknown): Promise<AccessTokenView & { token: string }>;
  /** The caller's tokens and their bots', without secrets. */
  list(actor: Actor): Promise<AccessTokenView[]>;
  /** Deletes one of those; it stops working on every replica and transport at once, its sockets closed. */
  revoke(actor: Actor, rawId: unknown): Promise<void>;
  /** A bot owned by the caller, and its first token. */
  createBot(actor: Actor, input: unknown): Promise<{ bot: BotView; token: AccessTokenView & { token: string } }>;
  listBots(actor: Actor): Promise<BotView[]>;
}

export interface BotView {
  id: string;
  username: string;
  owner_id: string;
  created_at: string;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest();

const present = (row: AccessTokenRow): AccessTokenView => ({
  id: row.id,
  name: row.name,
  user_id: row.user_id,
  scopes: row.scopes,
  created_at: row.created_at.toISOString(),
  expires_at: row.expires_at?.toISOString() ?? null,
});

/** The claims a token stands for: its id is the revocable `jti`, its creation the `iat` that "log out everywhere" compares. */
function claimsOf(row: AccessTokenRow & { username: string }): TokenClaims {
  const iat = Math.floor(row.created_at.getTime() / 1000);
  const exp = row.expires_at ? Math.floor(row.expires_at.getTime() / 1000) : Number.MAX_SAFE_INTEGER;
  return { id: row.user_id, username: row.username, jti: `pat:${row.id}`, iat, exp, scopes: row.scopes };
}

/** The users `actor` manages tokens, webhooks and the like for: themself and their bots. */
export async function managedUsers(db: Kysely<DB>, actor: Actor): Promise<string[]> {
  return [actor.id, ...(await listBots(db, actor.id)).map((b) => b.id)];
}

export function createAccessTokens(deps: {
  db: Kysely<DB>;
  revocations: Pick<RevocationList, 'revoke'>;
  events: Pick<EventPublisher, 'tokenRevoked'>;
  /** TOKEN_CREATE_LIMIT per user: tokens and bots made; none in tests that build the service bare. */
  createLimit?: Limiter;
}): AccessTokens {
  const { db } = deps;
  const verified = new Map<string, { claims: TokenClaims; until: number }>();
  const tokenId = id('token id');

  /** The users the caller manages tokens for: themself and their bots. */
  async function mint(actor: Actor, userId: string, name: string, scopes: readonly string[], expiresIn: number | undefined) {
    const token = ACCESS_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = await insertAccessToken(db, {
      userId,
      createdBy: actor.id,
      name,
      hash: hashOf(token),
      scopes,
      expiresAt: expiresIn === undefined ? null : new Date(Date.now() + expiresIn * 1000),
    });
    return { ...present(row), token };
  }

  return {
    async verify(token) {
      const hash = hashOf(token).toString('base64');
      const known = verified.get(hash);
      if (known && known.until > Date.now() && known.claims.exp > Date.now() / 1000) return { ...known.claims };
      verified.delete(hash);
      const row = await findAccessTokenByHash(db, hashOf(token));
      if (!row) throw unauthenticated('invalid token');
      const claims = claimsOf(row);
      verified.set(hash, { claims, until: Date.now() + VERIFIED_TTL_MS });
      if (verified.size > VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
      return { ...claims };
    },

    async create(actor, raw) {
      requireSession(actor);
      const input = parseInput(createTokenInput, raw, 'invalid token request');
      const userId = input.user_id ?? actor.id;
      if (!(await managedUsers(db, actor)).includes(userId)) throw notFound('bot');
      await deps.createLimit?.consume(actor.id);
      return mint(actor, userId, input.name, input.scopes, input.expires_in);
    },

    async list(actor) {
      requireSession(actor);
      return (await listAccessTokens(db, await managedUsers(db, actor))).map(present);
    },

    async revoke(actor, rawId) {
      requireSession(actor);
      const removed = await deleteAccessToken(db, parseInput(tokenId, rawId, 'invalid token id'), await managedUsers(db, actor));
      if (!removed) throw notFound('token');
      const jti = `pat:${removed.id}`;
      // Refused on every replica from now on (the verified cache included), and its sockets closed.
      const exp = Math.floor(Date.now() / 1000) + REVOKED_FOR_S;
      await deps.revocations.revoke({ id: removed.user_id, jti, exp, iat: Math.floor(removed.created_at.getTime() / 1000) });
      deps.events.tokenRevoked({ userId: removed.user_id, jti });
    },

    async createBot(actor, raw) {
      requireSession(actor);
      const input = parseInput(createBotInput, raw, 'invalid bot');
      await deps.createLimit?.consume(actor.id);
      let bot;
      try {
        // Never a usable password: the login refuses bots before looking at one.
        bot = await insertBot(db, { username: input.username, ownerId: actor.id, email: `bot-${randomUUID()}@bots.invalid` });
      } catch (error) {
        if (isUniqueViolation(error, 'users_username_key')) throw conflict('username already taken');
        throw error;
      }
      const view = { id: bot.id, username: bot.username, owner_id: actor.id, created_at: bot.created_at.toISOString() };
      return { bot: view, token: await mint(actor, bot.id, `${input.username} (first token)`, input.scopes, undefined) };
    },

    async listBots(actor) {
      requireSession(actor);
      return (await listBots(db, actor.id)).map((b) => ({
        id: b.id,
        username: b.username,
        owner_id: actor.id,
        created_at: b.created_at.toISOString(),
      }));
    },
  };
}
