import { createECDH } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deletePrefix, pdfFile, pngFile, uniquePrefix } from '@chat/shared/testing';
import type { RunningCluster } from '../scripts/cluster/cluster.ts';
import { startE2eCluster } from './fixture.ts';

// The web page (web/app.js) in a real browser, through nginx, against the whole
// cluster as processes: it must come back from losing its gateway showing every
// message exactly once, in order, because it resumes from its last cursor.
// Debian's Chromium, driven by playwright-core (.ci/run installs the package
// `chromium` when it is missing). This file starts a cluster of its own; the e2e
// files run one at a time (vitest.config.ts), since each binds nginx's :8080.

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const BASE = 'http://127.0.0.1:8080';
/** The page's origin: the one the README gives, and allowed by the gateways' default CORS_ALLOWED_ORIGINS outside production. */
const PAGE = 'http://localhost:8080';
/** Per user: a file another user's run left in /tmp (sticky) could not be overwritten. */
const SCREENSHOT = path.join(tmpdir(), `page-resume-${userInfo().username}.png`);
const RESUME_MAX_BACKLOG = 8;

let cluster: RunningCluster;
let browser: Browser;
const prefix = uniquePrefix();
const logs: Array<{ name: string; line: string }> = [];

beforeAll(async () => {
  ({ cluster } = await startE2eCluster({
    prefix,
    // Small, so that one test can miss more than a resume replays. A VAPID key, so the
    // page offers notifications (no worker runs here: nothing is pushed).
    env: { RESUME_MAX_BACKLOG: String(RESUME_MAX_BACKLOG), VAPID_PUBLIC_KEY: createECDH('prime256v1').generateKeys().toString('base64url') },
    output: (name, line) => logs.push({ name, line }),
  }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
  await deletePrefix(prefix);
});

async function newUser(): Promise<{ username: string; token: string }> {
  const username = `web_${crypto.randomUUID().slice(0, 8)}`;
  const body = (u: object) => ({ method: 'POST', body: JSON.stringify(u) });
  expect((await fetch(`${BASE}/api/auth/register`, body({ username, email: `${username}@example.com`, password: 'password123' }))).status).toBe(201);
  const login = (await (await fetch(`${BASE}/api/auth/login`, body({ username, password: 'password123' }))).json()) as { token: string };
  return { username, token: login.token };
}

/** Resolves once the status line says the page's socket is live. */
const untilLive = (page: Page) => expect.poll(() => page.textContent('#status'), { timeout: 15_000, interval: 50 }).toMatch(/ · live$/);

/** Which gateway logged a plain WebSocket connection for this user (the page has one at a time). */
function gatewayOf(userId: string): Promise<string> {
  return vi.waitFor(
    () => {
      const found = logs.findLast(({ name, line }) => name.startsWith('gateway') && line.includes('"client connected"') && line.includes(userId));
      if (!found) throw new Error(`no gateway logged a connection for ${userId}`);
      return found.name;
    },
    { timeout: 5_000, interval: 50 },
  );
}

interface Frame {
  type: string;
  cursor?: string;
  replayed?: number;
  user_id?: string;
  code?: string;
  message?: { id: string; content: string };
}

interface SocketRecord {
  url: URL;
  frames: Frame[];
  closed: boolean;
  closeCode?: number;
}

/** A page of its own (in `context` when given), with what it did recorded as the browser saw it. */
async function openPage(context?: BrowserContext) {
  const page = await (context ?? browser).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // Every socket the page opens, with the frames it received.
  const sockets: SocketRecord[] = [];
  page.on('websocket', (ws) => {
    const record: SocketRecord = { url: new URL(ws.url()), frames: [], closed: false };
    sockets.push(record);
    ws.on('framereceived', ({ payload }) => record.frames.push(JSON.parse(String(payload)) as Frame));
    ws.on('close', () => {
      record.closed = true;
    });
  });
  /** GET /api/messages requests: the page reading history over REST. */
  const historyLoads: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'GET' && url.pathname === '/api/messages') historyLoads.push(url.search);
  });
  return { page, errors, sockets, historyLoads };
}

/** Registers and signs in through the page's own form; resolves with the user's id once the socket is live. */
async function signUp(page: Page, username: string, sockets: SocketRecord[]): Promise<string> {
  await page.goto(`${PAGE}/`);
  await page.fill('#auth-form input[name="username"]', username);
  await page.fill('#auth-form input[name="password"]', 'password123');
  await page.fill('#auth-form input[name="email"]', `${username}@example.com`);
  await page.click('#auth-form button[value="register"]');
  await untilLive(page);
  expect(await page.textContent('#status')).toBe(`signed in as ${username} · live`);
  expect(sockets).toHaveLength(1);
  const userId = sockets[0]?.frames.find((f) => f.type === 'connection')?.user_id;
  expect(userId).toBeTruthy();
  return userId as string;
}

/** Signs in through the page's own form as an existing user (a second tab); resolves once the socket is live. */
async function logIn(page: Page, username: string): Promise<void> {
  await page.goto(`${PAGE}/`);
  await page.fill('#auth-form input[name="username"]', username);
  await page.fill('#auth-form input[name="password"]', 'password123');
  await page.click('#auth-form button[value="login"]');
  await untilLive(page);
}

/** nginx spreads pages over the gateways at random: reloads `p` (signed in as `userId`) until it lands on another gateway than `otherId`'s. */
async function onOtherGateway(p: { page: Page; sockets: SocketRecord[] }, userId: string, otherId: string) {
  for (let i = 0; i < 12 && (await gatewayOf(userId)) === (await gatewayOf(otherId)); i++) {
    const before = p.sockets.length;
    const connects = logs.filter((l) => l.line.includes('"client connected"') && l.line.includes(userId)).length;
    await p.page.reload();
    await expect.poll(() => p.sockets.length, { timeout: 10_000, interval: 50 }).toBeGreaterThan(before);
    await untilLive(p.page);
    await expect
      .poll(() => logs.filter((l) => l.line.includes('"client connected"') && l.line.includes(userId)).length, { timeout: 5_000 })
      .toBeGreaterThan(connects);
  }
  expect(await gatewayOf(userId)).not.toBe(await gatewayOf(otherId));
}

/** Alice and Bob, each signed up on a page of their own, Bob's socket on the other gateway. */
async function twoUsersOnTwoGateways() {
  const a = await openPage();
  const b = await openPage();
  const alice = `page_${crypto.randomUUID().slice(0, 8)}`;
  const bob = `page_${crypto.randomUUID().slice(0, 8)}`;
  const aliceId = await signUp(a.page, alice, a.sockets);
  const bobId = await signUp(b.page, bob, b.sockets);
  await onOtherGateway(b, bobId, aliceId);
  return { a, b, alice, bob, aliceId, bobId };
}

/**
 * Another user writing over REST, alternately to everyone and directly to
 * `recipient`; every content starts with a tag of its own, so that `shown` can
 * tell them from other tests' global messages.
 */
async function writer(page: Page, recipient: string) {
  const sender = await newUser();
  const tag = `resume-${crypto.randomUUID().slice(0, 8)}`;
  const sent: string[] = [];
  const send = async (label: string) => {
    const content = `${tag} ${label}`;
    const direct = sent.length % 2 === 1;
    const res = await fetch(`${BASE}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sender.token}` },
      body: JSON.stringify(direct ? { content, recipient } : { content }),
    });
    expect(res.status).toBe(201);
    sent.push(content);
  };
  /** These messages' contents as the page lists them, top to bottom. An item reads time, sender, maybe the recipient, then the content. */
  const shown = async () =>
    (await page.locator('#messages li').allTextContents()).filter((text) => text.includes(tag)).map((text) => text.slice(text.indexOf(tag)));
  /** Waits until the page lists as many as were sent, then checks it lists exactly those, once each, in order. */
  const untilAllShown = async () => {
    await expect.poll(async () => (await shown()).length, { timeout: 15_000, interval: 50 }).toBeGreaterThanOrEqual(sent.length);
    expect(await shown()).toEqual(sent);
  };
  const isOurs = (f: Frame) => f.message?.content.startsWith(`${tag} `) === true;
  return { sent, send, shown, untilAllShown, isOurs };
}

describe('the web page', () => {
  it('resumes after losing its gateway: every missed message shown once, in order', async () => {
    const { page, errors, sockets, historyLoads } = await openPage();
    const username = `page_${crypto.randomUUID().slice(0, 8)}`;
    const userId = await signUp(page, username, sockets);
    const first = sockets[0] as SocketRecord;
    const w = await writer(page, username);

    for (let i = 1; i <= 3; i++) await w.send(`before ${i}`);
    await w.untilAllShown();
    const historyLoadsBefore = historyLoads.length;

    // Kill the gateway holding the page's socket; the runner restarts it.
    const gateway = await gatewayOf(userId);
    cluster.kill(gateway, 'SIGKILL');
    await expect.poll(() => first.closed, { timeout: 10_000, interval: 20 }).toBe(true);
    const lastCursorBefore = first.frames.findLast((f) => f.cursor !== undefined)?.cursor;
    expect(lastCursorBefore).toBeTruthy();

    // The page waits a second before reconnecting: these land while it has no socket.
    for (let i = 1; i <= 4; i++) await w.send(`during ${i}`);
    const outage = w.sent.slice(-4);
    expect(sockets).toHaveLength(1); // still disconnected when the last one was stored

    await untilLive(page);
    for (let i = 1; i <= 3; i++) await w.send(`after ${i}`);
    await w.untilAllShown();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Resume is what did it: the page reconnected through nginx with its last
    // cursor, the gateway replayed what was missed before `resumed`, and the page
    // did not fall back to reading history over REST.
    expect(sockets).toHaveLength(2);
    const second = sockets[1] as SocketRecord;
    expect(second.url.searchParams.get('since')).toBe(lastCursorBefore);
    // The page authenticates its sockets by the HttpOnly cookie: no token in any URL (logs print URLs).
    for (const s of sockets) expect(s.url.searchParams.has('token')).toBe(false);
    const resumedAt = second.frames.findIndex((f) => f.type === 'resumed');
    expect(resumedAt).toBeGreaterThan(0);
    expect(
      second.frames
        .slice(0, resumedAt)
        .filter(w.isOurs)
        .map((f) => f.message?.content),
    ).toEqual(outage);
    expect(second.frames[resumedAt]?.replayed).toBeGreaterThanOrEqual(outage.length);
    expect(historyLoads.length).toBe(historyLoadsBefore);
    // Each message arrived once over both sockets: no duplicate for the page to hide.
    const delivered = sockets.flatMap((s) => s.frames).filter(w.isOurs);
    expect(delivered.map((f) => f.message?.content)).toEqual(w.sent);
    expect(new Set(delivered.map((f) => f.message?.id)).size).toBe(w.sent.length);
    expect(await page.isHidden('#error')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('resumes across a reload of the page, reloads history for a large backlog, starts afresh on a refused cursor', async () => {
    const { page, errors, sockets, historyLoads } = await openPage();
    const username = `page_${crypto.randomUUID().slice(0, 8)}`;
    await signUp(page, username, sockets);
    const w = await writer(page, username);
    await w.send('first');
    await w.untilAllShown();

    // Away from the page (the session cookie and this tab's sessionStorage stay), then back.
    const away = async (messages: number, label: string, newSockets = 1) => {
      await page.goto('about:blank');
      for (let i = 1; i <= messages; i++) await w.send(`${label} ${i}`);
      const before = sockets.length;
      await page.goto(`${PAGE}/`);
      await untilLive(page);
      expect(sockets).toHaveLength(before + newSockets);
      return sockets.at(-1) as SocketRecord;
    };

    // A few missed: replayed from the cursor the page kept.
    const resumed = await away(2, 'while away');
    expect(resumed.url.searchParams.get('since')).toBeTruthy();
    expect(resumed.frames.find((f) => f.type === 'resumed')?.replayed).toBeGreaterThanOrEqual(2);
    expect(resumed.frames.filter(w.isOurs).map((f) => f.message?.content)).toEqual(w.sent.slice(-2));
    await w.untilAllShown();

    // More missed than a resume replays: `reload`, and the page reads history over REST.
    const loadsBefore = historyLoads.length;
    const reloaded = await away(RESUME_MAX_BACKLOG + 2, 'long away');
    expect(reloaded.url.searchParams.get('since')).toBeTruthy();
    expect(reloaded.frames.map((f) => f.type)).toContain('reload');
    expect(reloaded.frames.filter(w.isOurs)).toEqual([]);
    await w.untilAllShown();
    // One load at start-up as always, one for `reload`.
    await expect.poll(() => historyLoads.length - loadsBefore, { timeout: 5_000, interval: 50 }).toBe(2);

    // A cursor the gateway refuses: error frame and close 4003, then a fresh connection without one.
    await page.evaluate(() => {
      const saved = JSON.parse(sessionStorage.getItem('chat.cursor') ?? 'null') as { user: string } | null;
      sessionStorage.setItem('chat.cursor', JSON.stringify({ user: saved?.user, cursor: 'u1.1.AAAAAAAAAAAAAAAA' }));
    });
    await away(1, 'refused', 2);
    const [refused, fresh] = sockets.slice(-2) as [SocketRecord, SocketRecord];
    expect(refused.url.searchParams.get('since')).toBe('u1.1.AAAAAAAAAAAAAAAA');
    expect(refused.frames.map((f) => [f.type, f.code])).toContainEqual(['error', 'invalid_cursor']);
    expect(fresh.url.searchParams.has('since')).toBe(false);
    expect(fresh.frames[0]).toMatchObject({ type: 'connection', cursor: expect.any(String) as unknown });
    await w.untilAllShown();
    expect(await page.isHidden('#error')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows edits, reactions and deletions of a message as they happen, as text', async () => {
    const { page, errors, sockets } = await openPage();
    await signUp(page, `page_${crypto.randomUUID().slice(0, 8)}`, sockets);
    const sender = await newUser();
    const call = async (method: string, path: string, json?: unknown) => {
      const res = await fetch(`${BASE}${path}`, {
        method,
        headers: { authorization: `Bearer ${sender.token}` },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return (await res.json()) as { id: string };
    };
    const tag = `changes-${crypto.randomUUID().slice(0, 8)}`;
    const { id } = await call('POST', '/api/messages', { content: `${tag} first` });
    const item = page.locator(`#messages li[data-id="${id}"]`);
    await expect.poll(() => item.textContent(), { timeout: 10_000, interval: 50 }).toContain(`${tag} first`);

    await call('PATCH', `/api/messages/${id}`, { content: `${tag} <b>second</b>` });
    await expect.poll(() => item.textContent(), { timeout: 10_000, interval: 50 }).toContain(`${tag} <b>second</b> (edited)`);
    expect(await item.locator('b').count()).toBe(0); // text, never markup
    await call('PUT', `/api/messages/${id}/reactions/${encodeURIComponent('🎉')}`);
    await expect.poll(() => item.locator('.reactions').textContent(), { timeout: 10_000, interval: 50 }).toBe('🎉 1');
    await call('DELETE', `/api/messages/${id}`);
    await expect.poll(() => item.locator('.content').textContent(), { timeout: 10_000, interval: 50 }).toBe('message deleted');
    expect(await item.textContent()).not.toContain(tag);
    expect(await item.locator('.reactions').textContent()).toBe('');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('lets two users on different gateways react, take reactions back, reply and read the thread, and shows edits and deletions', async () => {
    const a = await openPage();
    const b = await openPage();
    const alice = `page_${crypto.randomUUID().slice(0, 8)}`;
    const aliceId = await signUp(a.page, alice, a.sockets);
    const bobId = await signUp(b.page, `page_${crypto.randomUUID().slice(0, 8)}`, b.sockets);
    await onOtherGateway(b, bobId, aliceId);

    const tag = `thread-${crypto.randomUUID().slice(0, 8)}`;
    await a.page.fill('#send-form input[name="content"]', `${tag} root`);
    await a.page.click('#send-form button[type="submit"]');
    const onA = a.page.locator('#messages li', { hasText: `${tag} root` });
    const onB = b.page.locator('#messages li', { hasText: `${tag} root` });
    await expect.poll(() => onB.count(), { timeout: 10_000, interval: 50 }).toBe(1);

    // Bob reacts; Alice sees it; Bob takes it back; Alice sees that too.
    await onB.locator('button[data-action="react"]', { hasText: '👍+' }).click();
    await expect.poll(() => onA.locator('.reactions').textContent(), { timeout: 10_000, interval: 50 }).toBe('👍 1');
    expect(await onB.locator('.reactions button').getAttribute('aria-pressed')).toBe('true');
    await onB.locator('.reactions button', { hasText: '👍 1' }).click();
    await expect.poll(() => onA.locator('.reactions').textContent(), { timeout: 10_000, interval: 50 }).toBe('');

    // Bob replies; Alice's root counts it, and its thread shows the root and the reply.
    await onB.locator('button[data-action="reply"]').click();
    expect(await b.page.textContent('#reply-text')).toContain(`${tag} root`);
    await b.page.fill('#send-form input[name="content"]', `${tag} reply`);
    await b.page.click('#send-form button[type="submit"]');
    const replies = onA.locator('button[data-action="thread"]');
    await expect.poll(() => replies.textContent(), { timeout: 10_000, interval: 50 }).toBe('1 reply');
    await replies.click();
    await expect
      .poll(() => a.page.locator('#thread li').allTextContents(), { timeout: 10_000, interval: 50 })
      .toEqual([expect.stringContaining(`${tag} root`), expect.stringContaining(`${tag} reply`)]);

    // Alice edits and deletes (over REST; the page shows, it does not edit): Bob's page follows.
    const id = await onA.getAttribute('data-id');
    const login = (await (
      await fetch(`${BASE}/api/auth/login`, { method: 'POST', body: JSON.stringify({ username: alice, password: 'password123' }) })
    ).json()) as { token: string };
    const change = (method: string, json?: unknown) =>
      fetch(`${BASE}/api/messages/${id}`, {
        method,
        headers: { authorization: `Bearer ${login.token}` },
        ...(json ? { body: JSON.stringify(json) } : {}),
      });
    expect((await change('PATCH', { content: `${tag} root, edited` })).status).toBe(200);
    await expect.poll(() => onB.textContent(), { timeout: 10_000, interval: 50 }).toContain(`${tag} root, edited (edited)`);
    expect((await change('DELETE')).status).toBe(200);
    const tombstone = b.page.locator(`#messages li[data-id="${id}"]`);
    await expect.poll(() => tombstone.locator('.content').textContent(), { timeout: 10_000, interval: 50 }).toBe('message deleted');
    expect(await tombstone.getAttribute('class')).toContain('deleted');

    expect([...a.errors, ...b.errors]).toEqual([]);
    await a.page.close();
    await b.page.close();
  }, 90_000);

  it('shows conversations with unread badges kept in step between two tabs, typing, and a read mark, for two users on different gateways', async () => {
    const { a, b, alice, bob, bobId } = await twoUsersOnTwoGateways();
    const a2 = await openPage();
    await logIn(a2.page, alice);

    const sidebar = (p: Page) => p.locator('#conversations button');
    const entry = (p: Page, title: string) => p.locator('#conversations button', { hasText: title });
    const badge = (p: Page, title: string) => entry(p, title).locator('.badge');
    // Everyone has global; the list says so.
    await expect.poll(() => sidebar(a.page).allTextContents(), { timeout: 10_000, interval: 50 }).toContain('global');

    // Bob writes to Alice (from "All messages", naming her): both of Alice's tabs show an unread badge on Bob.
    await b.page.fill('#send-form input[name="recipient"]', alice);
    await b.page.fill('#send-form input[name="content"]', 'are you there?');
    await b.page.click('#send-form button[type="submit"]');
    for (const tab of [a.page, a2.page]) await expect.poll(() => badge(tab, bob).textContent(), { timeout: 10_000, interval: 50 }).toBe('1');

    // Alice opens the conversation in one tab: it is read there, and the other tab's badge goes too.
    await entry(a.page, bob).click();
    await expect.poll(() => badge(a2.page, bob).count(), { timeout: 10_000, interval: 50 }).toBe(0);
    expect(await badge(a.page, bob).count()).toBe(0);
    expect(await a.page.locator('#messages li:not([hidden])').allTextContents()).toEqual([expect.stringContaining('are you there?')]);

    // Bob opens it too and types: Alice sees him typing.
    await entry(b.page, alice).click();
    await b.page.locator('#send-form input[name="content"]').pressSequentially('yes?');
    await expect.poll(() => a.page.textContent('#typing'), { timeout: 10_000, interval: 50 }).toBe(`${bob} is typing…`);

    // Alice answers in the conversation; Bob has it open, so it is read at once: Alice's message gets the read mark.
    await a.page.fill('#send-form input[name="content"]', 'here I am');
    await a.page.click('#send-form button[type="submit"]');
    const answer = a.page.locator('#messages li', { hasText: 'here I am' });
    await expect.poll(() => answer.getAttribute('class'), { timeout: 10_000, interval: 50 }).toContain('read');
    expect(await b.page.locator('#messages li:not([hidden])').allTextContents()).toEqual([
      expect.stringContaining('are you there?'),
      expect.stringContaining('here I am'),
    ]);

    // A room: Alice creates it and adds Bob over REST, then writes there; Bob's list shows it with its badge.
    const login = (await (
      await fetch(`${BASE}/api/auth/login`, { method: 'POST', body: JSON.stringify({ username: alice, password: 'password123' }) })
    ).json()) as { token: string };
    const auth = { authorization: `Bearer ${login.token}` };
    const room = (await (await fetch(`${BASE}/api/rooms`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'garden' }) })).json()) as {
      id: string;
    };
    expect((await fetch(`${BASE}/api/rooms/${room.id}/members/${bobId}`, { method: 'POST', headers: auth })).status).toBe(201);
    expect(
      (await fetch(`${BASE}/api/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'roses', room_id: room.id }) })).status,
    ).toBe(201);
    await expect.poll(() => badge(b.page, '# garden').textContent(), { timeout: 10_000, interval: 50 }).toBe('1');

    expect([...a.errors, ...a2.errors, ...b.errors]).toEqual([]);
    for (const p of [a, a2, b]) await p.page.close();
  }, 90_000);

  it('sends an image and a PDF between two users on different gateways: the image shown in place, the PDF offered for download', async () => {
    const { a, b, bob } = await twoUsersOnTwoGateways();

    const png = pngFile(40, 20);
    const pdf = pdfFile();
    await a.page.fill('#send-form input[name="recipient"]', bob);
    await a.page.fill('#send-form input[name="content"]', 'the plan');
    await a.page.setInputFiles('#send-form input[name="files"]', [
      { name: 'plan.png', mimeType: 'image/png', buffer: png },
      { name: 'plan.pdf', mimeType: 'application/pdf', buffer: pdf },
    ]);
    await a.page.click('#send-form button[type="submit"]');

    const onB = b.page.locator('#messages li', { hasText: 'the plan' });
    await expect.poll(() => onB.count(), { timeout: 10_000, interval: 50 }).toBe(1);
    // The image is shown, loaded from the API with Bob's session, at its size.
    const image = onB.locator('img.attachment');
    await expect
      .poll(
        () =>
          image.evaluate((img) => {
            const i = img as unknown as { complete: boolean; naturalWidth: number; naturalHeight: number; alt: string };
            return [i.complete, i.naturalWidth, i.naturalHeight, i.alt];
          }),
        {
          timeout: 10_000,
          interval: 50,
        },
      )
      .toEqual([true, 40, 20, 'plan.png']);
    // The PDF is a download, and what arrives is the file Alice sent.
    const link = onB.locator('a.attachment', { hasText: 'plan.pdf' });
    const [download] = await Promise.all([b.page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('plan.pdf');
    const saved = await download.path();
    expect((await readFile(saved)).equals(pdf)).toBe(true);

    expect([...a.errors, ...b.errors]).toEqual([]);
    for (const p of [a, b]) await p.page.close();
  }, 90_000);

  /** What the test reads of a service worker's global scope (no DOM types here). */
  interface ServiceWorkerScope {
    registration: { getNotifications(): Promise<Array<{ title: string; body: string; tag: string }>> };
    dispatchEvent(event: unknown): boolean;
    PushEvent: new (type: string, init: { data: string }) => unknown;
  }

  it('offers notifications: the button registers the service worker, which shows what a push brings', async () => {
    const context = await browser.newContext();
    try {
      await context.grantPermissions(['notifications'], { origin: PAGE });
      const { page, errors, sockets } = await openPage(context);
      await signUp(page, `push_${crypto.randomUUID().slice(0, 8)}`, sockets);
      await expect.poll(() => page.isVisible('#notify'), { timeout: 10_000 }).toBe(true);
      expect(await page.textContent('#notify')).toBe('Notify me');

      const registered = context.waitForEvent('serviceworker', { timeout: 15_000 });
      await page.click('#notify');
      const worker = await registered;
      expect(new URL(worker.url()).pathname).toBe('/sw.js');
      // This machine has no way to the browser's push service: the page says so and stays off.
      await expect.poll(() => page.textContent('#error'), { timeout: 30_000 }).toMatch(/could not turn notifications on/);
      expect(await page.textContent('#notify')).toBe('Notify me');

      // What a push service would hand the worker: it shows the notice, one per conversation.
      const shown = await worker.evaluate(async () => {
        const sw = globalThis as unknown as ServiceWorkerScope;
        for (const body of ['hi there', 'and again']) {
          sw.dispatchEvent(
            new sw.PushEvent('push', { data: JSON.stringify({ conversation: 'user:alice', title: 'alice', body, count: 1, seq: 1 }) }),
          );
        }
        for (let i = 0; i < 50; i++) {
          const notes = await sw.registration.getNotifications();
          if (notes.some((n) => n.body === 'and again')) return notes.map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return [];
      });
      expect(shown).toEqual([{ title: 'alice', body: 'and again', tag: 'user:alice' }]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
