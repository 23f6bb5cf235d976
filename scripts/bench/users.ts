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

/** Loopback source address number `i` (127.0.0.2 upwards), so many clients get past one address's ephemeral ports and per-address limits. */
export const loopback = (i: number) => `127.0.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}`;
