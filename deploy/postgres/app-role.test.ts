import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, migrateToLatest } from '@chat/shared/db';
import { createRoom, createUser, startApi, type TestApi } from '../../services/api/test/harness.ts';

// Compose's PostgreSQL gets its application role from app-role.sql (through
// init-app-role.sh); migrations run as the owner, the API as the role. This runs
// that very file with psql on a database and roles of its own, migrates as the
// owner, then runs the real API as the role: everything it does must work, and
// the role must not be able to change the schema.

const execFileAsync = promisify(execFile);
const id = randomBytes(4).toString('hex');
const owner = `chat_owner_${id}`;
const appRole = `chat_app_${id}`;
const database = `chat_roles_${id}`;
const ownerPassword = randomBytes(16).toString('hex');
const appPassword = randomBytes(16).toString('hex');

const adminUrl = () => inject('adminDatabaseUrl');
const urlFor = (user: string, password: string) => {
  const url = new URL(adminUrl());
  url.username = user;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
};

async function asAdmin(statement: string, url = adminUrl()): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

let api: TestApi | undefined;

beforeAll(async () => {
  await asAdmin(`create role ${owner} login password '${ownerPassword}' nosuperuser nocreatedb nocreaterole`);
  await asAdmin(`create database ${database} owner ${owner}`);
  // What init-app-role.sh runs (as the image's superuser), with the same variables.
  const dbUrl = new URL(adminUrl());
  dbUrl.pathname = `/${database}`;
  await execFileAsync('psql', [
    '-v',
    'ON_ERROR_STOP=1',
    '-q',
    '-v',
    `owner=${owner}`,
    '-v',
    `db=${database}`,
    '-v',
    `app_role=${appRole}`,
    '-v',
    `app_password=${appPassword}`,
    '-f',
    path.join(import.meta.dirname, 'app-role.sql'),
    dbUrl.toString(),
  ]);
  const db = createDatabase({ url: urlFor(owner, ownerPassword), poolMax: 1 });
  try {
    const { error } = await migrateToLatest(db);
    if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
  } finally {
    await db.destroy();
  }
});

afterAll(async () => {
  await api?.close();
  await asAdmin(`drop database if exists ${database} with (force)`);
  await asAdmin(`drop role if exists ${appRole}`);
  await asAdmin(`drop role if exists ${owner}`);
});

describe('deploy/postgres/app-role.sql', () => {
  it('lets the real API do everything as the application role: accounts, rooms, messages (store_message, sequence_messages), logout', async () => {
    api = await startApi({ DATABASE_URL: urlFor(appRole, appPassword) });
    await api.resources.redis.ping(); // the rate limiters refuse requests until Redis is ready
    const alice = await createUser(api).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${JSON.stringify(api?.logs.filter((l) => Number(l.level) >= 40))}`);
    });
    const bob = await createUser(api);
    const room = await createRoom(api, alice);
    expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
    for (const body of [{ content: 'global' }, { content: 'direct', recipient: bob.username }, { content: 'room', room_id: room.id }]) {
      expect((await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: body })).status).toBe(201);
    }
    const page = (await (await api.fetch('/api/messages', { token: bob.token })).json()) as { messages: Array<{ content: string }> };
    expect(page.messages.map((m) => m.content).sort()).toEqual(['direct', 'global', 'room']);
    expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'DELETE', token: alice.token })).status).toBe(200);
    expect((await api.fetch('/api/auth/logout', { method: 'POST', token: alice.token })).status).toBeLessThan(300);
    expect((await api.fetch('/api/auth/profile', { token: alice.token })).status).toBe(401);
  });

  it('does not let the application role change the schema, empty tables wholesale, or create objects', async () => {
    const url = urlFor(appRole, appPassword);
    for (const statement of [
      'create table intruder (id int)',
      'drop table messages',
      'alter table users add column evil text',
      'truncate messages',
      'create function evil() returns int language sql as $$ select 1 $$',
      'create role evil',
      `create database evil_${id}`,
    ]) {
      await expect(asAdmin(statement, url), statement).rejects.toThrow(/permission denied|must be owner|must be superuser/);
    }
  });

  it('is the only non-owner that may connect', async () => {
    await expect(asAdmin('select 1', urlFor(`nobody_${id}`, 'x'))).rejects.toThrow();
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    try {
      const { rows } = await client.query<{ public_connect: boolean }>(`select has_database_privilege('public', $1, 'connect') as public_connect`, [
        database,
      ]);
      expect(rows[0]?.public_connect).toBe(false);
    } finally {
      await client.end();
    }
  });
});
