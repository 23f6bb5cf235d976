import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { startGateway, type TestGateway } from './harness.ts';

// Socket.IO long-polling sends a session's packets as POSTs, which a page on any
// site can make the browser send with the jwt_token cookie attached. Engine.IO
// asks allowRequest only at the (GET) handshake, so the gateway checks every
// request with the API's CSRF rule (shared/src/auth/csrf.ts).

const EVIL = 'http://localhost:4000';
const ALLOWED = 'http://localhost:8080';

let api: TestApi;
let gw: TestGateway;
let user: TestUser;

beforeAll(async () => {
  api = await startApi();
  gw = await startGateway(api.config.redis.prefix);
  user = await createUser(api);
});
afterAll(async () => {
  await gw.close();
  await api.close();
});

/** A fresh long-polling session opened with the cookie; its sid. */
async function pollingSession(): Promise<string> {
  const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie: user.cookie, origin: ALLOWED } });
  expect(res.status).toBe(200);
  const text = await res.text();
  return (JSON.parse(text.slice(1)) as { sid: string }).sid;
}

const post = (sid: string, headers: Record<string, string>, body = '40') =>
  fetch(`${gw.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
    body,
  });

async function expectRefused(res: Response) {
  expect(res.status).toBe(403);
  const body = (await res.json()) as { error: string; code: string };
  expect(body).toEqual({ code: 'forbidden', error: expect.stringMatching(/^cross-site request refused: /) as string });
}

describe('a cookie-authenticated long-polling POST', () => {
  it('from a foreign Origin is refused with 403 forbidden', async () => {
    const sid = await pollingSession();
    await expectRefused(await post(sid, { cookie: user.cookie, origin: EVIL }));
  });

  it.each(['cross-site', 'same-site'])('without an Origin but Sec-Fetch-Site %s is refused', async (site) => {
    const sid = await pollingSession();
    await expectRefused(await post(sid, { cookie: user.cookie, 'sec-fetch-site': site }));
  });

  it('from an allowed Origin, or with neither header, goes through', async () => {
    const cases: Array<Record<string, string>> = [{ origin: ALLOWED }, { 'sec-fetch-site': 'same-origin' }, {}];
    for (const headers of cases) {
      const res = await post(await pollingSession(), { cookie: user.cookie, ...headers });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok');
    }
  });

  it('with a Bearer header goes through whatever the origin', async () => {
    const res = await post(await pollingSession(), { cookie: user.cookie, authorization: `Bearer ${user.token}`, origin: EVIL });
    expect(res.status).toBe(200);
  });

  it('leaves the handshake GET to its own Origin check', async () => {
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie: user.cookie, 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(200);
    // A foreign Origin still cannot open a session at all (allowRequest).
    expect((await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie: user.cookie, origin: EVIL } })).status).toBe(403);
  });
});
