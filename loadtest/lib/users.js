// Users over REST, created in setup(): k6 hands setup()'s result to every VU.
// Registration is rate-limited per address and hashes the password (argon2, slow
// on purpose), so scenarios create a bounded number of users and share them
// between virtual users: a user may hold many connections.

import http from 'k6/http';
import { fail } from 'k6';
import { BASE_URL } from './config.js';

/**
 * A user created in setup(), as every VU receives it.
 * @typedef {{ username: string, token: string, id?: string }} User
 */

const PASSWORD = 'k6-smoke-password';

/**
 * @param {string | null} token
 * @param {string} name the request's `name` tag
 * @param {Record<string, string>} [extraHeaders]
 */
export function jsonParams(token, name, extraHeaders) {
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json', ...extraHeaders };
  if (token) headers.Authorization = `Bearer ${token}`;
  return { headers, tags: { name } };
}

/** Fails the run (in setup) unless `GET /health` answers 200. */
export function checkHealth() {
  const health = http.get(`${BASE_URL}/health`, { tags: { name: 'GET /health' } });
  if (health.status !== 200) fail(`${BASE_URL}/health answered ${health.status}: is the cluster up?`);
}

/**
 * `k6_<run id>_<role><index>`: USERNAME_PATTERN allows 3-32 of [A-Za-z0-9_.-], not
 * starting with . or -.
 * @param {string} runId
 * @param {string} role
 * @param {number} index
 */
const usernameFor = (runId, role, index) => `k6_${runId}_${role}${index}`;

/** @param {string} username */
const registerBody = (username) => JSON.stringify({ username, email: `${username}@example.test`, password: PASSWORD });
/** @param {string} username */
const loginBody = (username) => JSON.stringify({ username, password: PASSWORD });

/**
 * Registers and logs in one user, one request after the other.
 * @param {string} runId
 * @param {string} role
 * @param {number} index
 * @returns {User}
 */
export function createUser(runId, role, index) {
  const username = usernameFor(runId, role, index);
  const register = http.post(`${BASE_URL}/api/auth/register`, registerBody(username), jsonParams(null, 'POST /api/auth/register'));
  if (register.status !== 201) fail(`register ${username}: HTTP ${register.status} ${register.body}`);

  const login = http.post(`${BASE_URL}/api/auth/login`, loginBody(username), jsonParams(null, 'POST /api/auth/login'));
  const token = login.status === 200 ? login.json('token') : undefined;
  if (typeof token !== 'string' || !token) fail(`login ${username}: HTTP ${login.status} ${login.body}`);
  return { username, token };
}

/**
 * Registers and logs in `count` users, `parallel` at a time (http.batch), with
 * their ids. The API hashes at most PASSWORD_HASH_CONCURRENCY passwords at once
 * per replica and queues PASSWORD_HASH_QUEUE more, so keep `parallel` modest.
 * @param {string} runId
 * @param {string} role
 * @param {number} count
 * @param {number} [parallel]
 * @returns {User[]}
 */
export function createUsers(runId, role, count, parallel = 8) {
  /** @type {User[]} */
  const users = [];
  for (let start = 0; start < count; start += parallel) {
    /** @type {string[]} */
    const names = [];
    for (let i = start; i < Math.min(count, start + parallel); i++) names.push(usernameFor(runId, role, i));
    const registered = http.batch(
      names.map((username) => ({
        method: 'POST',
        url: `${BASE_URL}/api/auth/register`,
        body: registerBody(username),
        params: jsonParams(null, 'POST /api/auth/register'),
      })),
    );
    registered.forEach((r, i) => {
      if (r.status !== 201) fail(`register ${names[i]}: HTTP ${r.status} ${r.body}`);
    });
    const logins = http.batch(
      names.map((username) => ({
        method: 'POST',
        url: `${BASE_URL}/api/auth/login`,
        body: loginBody(username),
        params: jsonParams(null, 'POST /api/auth/login'),
      })),
    );
    logins.forEach((r, i) => {
      const token = r.status === 200 ? r.json('token') : undefined;
      const id = r.status === 200 ? r.json('user.id') : undefined;
      if (typeof token !== 'string' || !token || typeof id !== 'string') fail(`login ${names[i]}: HTTP ${r.status} ${r.body}`);
      users.push({ username: names[i] ?? '', token, id });
    });
  }
  return users;
}

/**
 * Creates a room owned by `owner` and adds `members` to it (each may join
 * MAX_ROOMS_PER_USER rooms, a room holds MAX_MEMBERS_PER_ROOM members).
 * @param {User} owner
 * @param {string} name
 * @param {User[]} members
 * @returns {string} the room id
 */
export function createRoom(owner, name, members) {
  const created = http.post(`${BASE_URL}/api/rooms`, JSON.stringify({ name }), jsonParams(owner.token, 'POST /api/rooms'));
  const roomId = created.status === 201 ? created.json('id') : undefined;
  if (typeof roomId !== 'string') fail(`create room ${name}: HTTP ${created.status} ${created.body}`);
  for (const member of members) {
    if (member.id === owner.id) continue;
    const added = http.post(
      `${BASE_URL}/api/rooms/${roomId}/members/${member.id}`,
      null,
      jsonParams(owner.token, 'POST /api/rooms/{id}/members/{userId}'),
    );
    if (added.status !== 201 && added.status !== 200) fail(`add ${member.username} to room ${name}: HTTP ${added.status} ${added.body}`);
  }
  return roomId;
}

/**
 * The user at `index` (wrapping around), so each VU of a scenario has its own
 * while there are enough, and VUs share users beyond that.
 * @param {User[]} list
 * @param {number} index
 * @returns {User}
 */
export function userFor(list, index) {
  if (list.length === 0) fail('no users for this scenario');
  return /** @type {User} */ (list[index % list.length]);
}
