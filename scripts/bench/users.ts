import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTokenService } from '@chat/shared/auth';
import { JWT_SECRET } from './cluster.ts';

export interface BenchUser {
  id: string;
  username: string;
  token: string;
}

/**
 * Users written straight into the bench database with tokens signed by the
 * cluster's secret: registering thousands through the API would measure argon2.
 * Nobody logs in with the placeholder hash.
 */
export async function createUsers(databaseUrl: string, n: number, label: string): Promise<BenchUser[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tag = `${label}${randomBytes(3).toString('hex')}`;
    const { rows } = await client.query<{ id: string; username: string }>(
      `insert into users (username, email, password_hash)
       select $1 || '_' || g, $1 || '_' || g || '@bench.invalid', 'bench-no-login'
       from generate_series(1, $2::int) g returning id, username`,
      [tag, n],
    );
    const tokens = createTokenService({ secret: JWT_SECRET, expiryHours: 24 });
    return await Promise.all(rows.map(async (u) => ({ ...u, token: (await tokens.issue(u)).token })));
  } finally {
    await client.end();
  }
}

/**
 * Users registered and logged in over REST, `parallel` at a time (the API hashes
 * passwords with argon2, slow on purpose, a few at once per replica): for a
 * cluster whose database and token secret are not at hand. `onRequest` hears
 * whether each request succeeded; a failure throws.
 */
export async function registerUsers(
  baseUrl: string,
  usernames: string[],
  opts: { parallel?: number; onRequest?: (ok: boolean) => void } = {},
): Promise<BenchUser[]> {
  const password = randomBytes(12).toString('hex');
  const post = async (path: string, body: unknown, expected: number) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    opts.onRequest?.(res.status === expected);
    const text = await res.text();
    if (res.status !== expected) throw new Error(`POST ${path} ${JSON.stringify(body).slice(0, 80)}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  };
  const one = async (username: string): Promise<BenchUser> => {
    await post('/api/auth/register', { username, email: `${username}@example.test`, password }, 201);
    const login = (await post('/api/auth/login', { username, password }, 200)) as { token?: unknown; user?: { id?: unknown } };
    if (typeof login.token !== 'string' || typeof login.user?.id !== 'string') throw new Error(`login ${username}: no token or user id`);
    return { id: login.user.id, username, token: login.token };
  };
  const users: BenchUser[] = [];
  const parallel = opts.parallel ?? 8;
  for (let i = 0; i < usernames.length; i += parallel) users.push(...(await Promise.all(usernames.slice(i, i + parallel).map(one))));
  return users;
}

/** Loopback source address number `i` (127.0.0.2 upwards), so many clients get past one address's ephemeral ports and per-address limits. */
export const loopback = (i: number) => `127.0.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}`;
