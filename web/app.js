// Minimal chat client: REST for auth, history and sending; the seed-compatible plain
// WebSocket (/api/ws/connect) for live delivery. Everything is same-origin through
// nginx. User-supplied text is only ever written with textContent, never innerHTML.
// A lost socket reconnects with `since=<the last cursor seen>`, and the gateway
// replays what was missed before going live again (docs/protocol.md#cursors-and-resume).
// Type-checked from JSDoc (tsconfig.web.json, part of `npm run typecheck`). An ES
// module (strict, deferred); the conversation sidebar is inbox.js.
import { createInbox } from './inbox.js';
import { createPushToggle } from './push.js';

/** @typedef {import('./inbox.js').Conversation} Conversation */

/**
 * A message as the API and the socket send it (shared/src/model/message.ts).
 * @typedef {object} ChatMessage
 * @property {string} id
 * @property {string} sender
 * @property {string | null} recipient
 * @property {string | null} room_id
 * @property {string} content
 * @property {string} created_at
 * @property {string | null} [edited_at]
 * @property {string | null} [deleted_at]
 * @property {Array<{ emoji: string, count: number, users: string[] }>} [reactions]
 * @property {string | null} [reply_to]
 * @property {number} [reply_count]
 * @property {Attachment[]} [attachments]
 */

/**
 * A file a message carries (shared/src/model/message.ts).
 * @typedef {{ id: string, name: string, size: number, content_type: string, url: string, width?: number, height?: number }} Attachment
 */

/** @typedef {{ id: string, username: string }} User */

/** What the API says went wrong: its `error` text, with the HTTP status. */
class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * One of index.html's elements (the script is deferred, so they all exist).
 * @param {string} id
 */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  status: $('status'),
  logout: $('logout'),
  notify: /** @type {HTMLButtonElement} */ ($('notify')),
  authPanel: $('auth-panel'),
  authForm: /** @type {HTMLFormElement} */ ($('auth-form')),
  chatPanel: $('chat-panel'),
  messages: $('messages'),
  sendForm: /** @type {HTMLFormElement} */ ($('send-form')),
  replyBar: $('reply-bar'),
  replyText: $('reply-text'),
  replyCancel: $('reply-cancel'),
  threadPanel: $('thread-panel'),
  thread: $('thread'),
  threadClose: $('thread-close'),
  conversations: $('conversations'),
  typing: $('typing'),
  recipient: /** @type {HTMLInputElement} */ ($('send-form').querySelector('input[name="recipient"]')),
  content: /** @type {HTMLInputElement} */ ($('send-form').querySelector('input[name="content"]')),
  files: /** @type {HTMLInputElement} */ ($('send-form').querySelector('input[name="files"]')),
  error: $('error'),
};

/** The reaction the page offers on every message. */
const QUICK_REACTION = '👍';

const MAX_RENDERED = 500; // older items are dropped from the DOM beyond this

/** @type {string | null} */
let token = null; // from the login response; kept in memory only (the HttpOnly cookie covers reloads)
/** @type {User | null} */
let me = null;
/** @type {WebSocket | null} */
let socket = null;
let reconnectDelay = 1000;
/** @type {number | undefined} */
let reconnectTimer;
const seen = new Set(); // message ids already shown: a sent message comes back over the socket too
/** @type {Map<string, ChatMessage>} each shown message as it is now (edits, reactions, replies) */
const shown = new Map();
/** @type {ChatMessage | null} the message the next send replies to */
let replyTo = null;
/** @type {string | null} the root of the thread open in the thread panel */
let openThread = null;
/** @type {string | null} */
let cursor = null; // the newest resume cursor any frame carried; reconnecting with it replays what was missed
const CURSOR_KEY = 'chat.cursor'; // sessionStorage, so a reload of the page resumes too
const INVALID_CURSOR_CLOSE = 4003; // the gateway refused `since`: drop it, start afresh, reload history

/** The conversation sidebar (inbox.js): unread badges, the conversation shown, read marks, typing. */
const inbox = createInbox({
  api,
  send(frame) {
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  },
  me: () => me,
  list: els.conversations,
  feed: els.messages,
  typingLine: els.typing,
  onSelect: (c) => openConversation(c).catch((e) => showError(`could not load the conversation: ${errorText(e)}`)),
  onError: showError,
});
const push = createPushToggle({ button: els.notify, api, onError: showError });

// ---- helpers ------------------------------------------------------------------

/** @param {string} text */
function showError(text) {
  els.error.textContent = text;
  els.error.hidden = !text;
}

/** @param {string} text */
function setStatus(text) {
  els.status.textContent = text;
}

/**
 * JSON request to the API; throws an ApiError carrying the API's `error` text.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the parsed JSON body
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // The cookie is sent too (credentials: 'include'); the bearer token also works where
  // the browser would not store a Secure cookie (plain http on a non-localhost host).
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'include',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const details = Array.isArray(data?.details) ? ` (${data.details.map(detailText).join('; ')})` : '';
    throw new ApiError(`${data?.error ?? `HTTP ${res.status}`}${details}`, res.status);
  }
  return data;
}

/** @param {string | { field?: string, path?: string, message?: string } | null} d one of an error's `details` */
function detailText(d) {
  if (typeof d === 'string') return d;
  if (d && typeof d === 'object') return [d.field ?? d.path, d.message].filter(Boolean).join(': ');
  return String(d);
}

/**
 * What a caught error says (everything thrown here is an Error).
 * @param {unknown} e
 */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

// ---- resume cursor --------------------------------------------------------------------

/**
 * The cursor this tab kept for `userId`, if any (cursors are per user).
 * @param {string} userId
 * @returns {string | null}
 */
function storedCursor(userId) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(CURSOR_KEY) ?? 'null');
    return saved?.user === userId && typeof saved.cursor === 'string' ? saved.cursor : null;
  } catch {
    return null; // storage unavailable or garbled: start without one
  }
}

/** @param {unknown} value a frame's `cursor`, kept when it is one */
function keepCursor(value) {
  if (typeof value !== 'string' || !value) return;
  cursor = value;
  try {
    if (me) sessionStorage.setItem(CURSOR_KEY, JSON.stringify({ user: me.id, cursor: value }));
  } catch {
    // storage unavailable: the cursor still lives in memory
  }
}

function dropCursor() {
  cursor = null;
  try {
    sessionStorage.removeItem(CURSOR_KEY);
  } catch {
    // storage unavailable: nothing was kept there
  }
}

// ---- rendering ------------------------------------------------------------------

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {ChatMessage | null | undefined} m
 * @param {{ direct?: boolean }} [options]
 */
function addMessage(m, { direct = false } = {}) {
  if (!m || typeof m !== 'object' || seen.has(m.id)) return;
  seen.add(m.id);

  const list = els.messages;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;

  const li = el('li', direct || m.recipient ? 'direct' : '');
  const when = new Date(m.created_at);
  const at = when.getTime();
  li.dataset.at = String(at);
  li.append(el('span', 'meta', Number.isNaN(at) ? '' : when.toLocaleTimeString()));
  li.append(el('span', 'sender', String(m.sender ?? '?')));
  if (m.recipient) li.append(el('span', 'meta', `→ ${m.recipient}`));
  if (m.room_id) li.append(el('span', 'meta', `#${m.room_id.slice(0, 8)}`));
  li.dataset.id = String(m.id);
  li.dataset.key = inbox.keyOfMessage(m);
  li.dataset.sender = String(m.sender ?? '');
  // The actions come before the content: an item reads time, sender, actions, content.
  const actions = el('span', 'actions');
  actions.append(button('Reply', 'reply'), button(`${QUICK_REACTION}+`, 'react', QUICK_REACTION));
  li.append(actions, el('span', 'content'), el('span', 'meta state'), el('span', 'attachments'), el('span', 'reactions'));
  showState(li, m);
  if (m.reply_to && m.reply_to === openThread) addToThread(m);
  // Oldest at the top, as the API orders them: history loaded after some live
  // messages goes above them. Scans from the bottom, where live messages belong.
  /** @type {Element | null} */
  let before = null;
  let node = list.lastElementChild;
  while (node instanceof HTMLElement && Number(node.dataset.at) > at) {
    before = node;
    node = node.previousElementSibling;
  }
  list.insertBefore(li, before);
  inbox.shown(m);

  while (list.children.length > MAX_RENDERED) list.firstElementChild?.remove();
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

/**
 * Shows what a message is now: its text, whether it was edited or deleted, its
 * reactions and replies. All as text nodes: content is never markup.
 * @param {HTMLElement} li
 * @param {ChatMessage} m
 */
function showState(li, m) {
  shown.set(m.id, m);
  const [content, state, reactions, files] = ['.content', '.state', '.reactions', '.attachments'].map((s) => li.querySelector(s));
  // Images in place (the API serves only PNG, JPEG, GIF and WebP inline), anything else as a link to download.
  if (files) files.replaceChildren(...(m.attachments ?? []).map(attachmentNode));
  if (content) content.textContent = m.deleted_at ? 'message deleted' : String(m.content ?? '');
  li.classList.toggle('deleted', Boolean(m.deleted_at));
  if (state) state.textContent = m.edited_at && !m.deleted_at ? ' (edited)' : '';
  if (reactions) {
    // One button per emoji: pressed when it is one of mine; a click takes it back or adds it.
    reactions.replaceChildren(
      ...(m.reactions ?? []).map((r) => {
        const chip = button(`${r.emoji} ${r.count}`, 'react', r.emoji);
        chip.setAttribute('aria-pressed', String(Boolean(me && r.users.includes(me.username))));
        return chip;
      }),
    );
    if (m.reply_count) reactions.append(button(`${m.reply_count} ${m.reply_count === 1 ? 'reply' : 'replies'}`, 'thread'));
  }
}

/** Image types the API serves inline; other files download. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/**
 * One attachment: the image itself, or a download link with the name and size.
 * @param {Attachment} a
 */
function attachmentNode(a) {
  if (INLINE_IMAGES.has(a.content_type)) {
    const img = /** @type {HTMLImageElement} */ (el('img', 'attachment'));
    img.src = a.url;
    img.alt = a.name;
    if (a.width && a.height) {
      img.width = Math.min(a.width, 240);
      img.height = Math.round((img.width / a.width) * a.height);
    }
    return img;
  }
  const link = /** @type {HTMLAnchorElement} */ (el('a', 'attachment', `${a.name} (${Math.max(1, Math.round(a.size / 1024))} KiB)`));
  link.href = a.url;
  link.download = a.name;
  return link;
}

/**
 * Uploads each chosen file (POST /api/uploads); resolves with their ids, in order.
 * @param {FileList | null} files
 * @returns {Promise<string[]>}
 */
async function uploadAll(files) {
  const ids = [];
  for (const file of files ?? []) {
    const form = new FormData();
    form.append('file', file, file.name);
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch('/api/uploads', { method: 'POST', headers, credentials: 'include', body: form });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(`${file.name}: ${data?.error ?? `HTTP ${res.status}`}`, res.status);
    ids.push(String(data.id));
  }
  return ids;
}

/**
 * A small button for one action on a message (the list's click handler reads `data-action`).
 * @param {string} text
 * @param {string} action
 * @param {string} [emoji]
 */
function button(text, action, emoji) {
  const b = /** @type {HTMLButtonElement} */ (el('button', 'action', text));
  b.type = 'button';
  b.dataset.action = action;
  if (emoji) b.dataset.emoji = emoji;
  return b;
}

/**
 * The thread panel's copy of a reply (or of the root), oldest at the top.
 * @param {ChatMessage} m
 */
function addToThread(m) {
  if ([...els.thread.children].some((node) => node instanceof HTMLElement && node.dataset.id === m.id)) return;
  const li = el('li', m.reply_to ? '' : 'root');
  li.dataset.id = m.id;
  li.append(el('span', 'sender', String(m.sender ?? '?')), el('span', 'content', m.deleted_at ? 'message deleted' : String(m.content ?? '')));
  els.thread.append(li);
}

/**
 * Opens the thread of message `id` (its root, or a reply in it): the root, then its replies, oldest first.
 * @param {string} id
 */
async function showThread(id) {
  const root = shown.get(id)?.reply_to ?? id;
  openThread = root;
  els.thread.replaceChildren();
  els.threadPanel.hidden = false;
  const rootMessage = shown.get(root);
  if (rootMessage) addToThread(rootMessage);
  const page = await api('GET', `/api/messages/${encodeURIComponent(root)}/replies?limit=100`);
  if (openThread !== root) return; // another thread was opened meanwhile
  for (const m of [...(page?.messages ?? [])].reverse()) addToThread(m);
}

/**
 * Adds my reaction `emoji` to message `id`, or takes it back if it is mine already.
 * @param {string} id
 * @param {string} emoji
 */
async function toggleReaction(id, emoji) {
  const mine = shown.get(id)?.reactions?.some((r) => r.emoji === emoji && me !== null && r.users.includes(me.username)) ?? false;
  const updated = await api(mine ? 'DELETE' : 'PUT', `/api/messages/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`);
  updateMessage(updated);
}

/**
 * Replies to message `m` with the next send (in its conversation), or stops replying (null).
 * @param {ChatMessage | null} m
 */
function replyWith(m) {
  replyTo = m;
  els.replyBar.hidden = m === null;
  els.replyText.textContent = m ? `Replying to ${m.sender}: ${m.deleted_at ? 'message deleted' : m.content}` : '';
}

/**
 * An edit, reaction, reply count or deletion of a message already shown.
 * @param {ChatMessage | null | undefined} m
 */
function updateMessage(m) {
  if (!m || typeof m !== 'object') return;
  const li = [...els.messages.children].find((node) => node instanceof HTMLElement && node.dataset.id === m.id);
  if (li instanceof HTMLElement) showState(li, m);
}

els.messages.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
  const li = target?.closest('li');
  if (!(target instanceof HTMLElement) || !(li instanceof HTMLElement) || !li.dataset.id) return;
  const id = li.dataset.id;
  const { action, emoji } = target.dataset;
  if (action === 'reply') replyWith(shown.get(id) ?? null);
  if (action === 'react' && emoji) toggleReaction(id, emoji).catch((e) => showError(errorText(e)));
  if (action === 'thread') showThread(id).catch((e) => showError(`could not load the thread: ${errorText(e)}`));
});
els.replyCancel.addEventListener('click', () => replyWith(null));
els.threadClose.addEventListener('click', () => {
  openThread = null;
  els.threadPanel.hidden = true;
});

/** @param {User} user */
function showChat(user) {
  me = user;
  els.authPanel.hidden = true;
  els.chatPanel.hidden = false;
  els.logout.hidden = false;
  setStatus(`signed in as ${user.username}`);
}

function showAuth() {
  me = null;
  token = null;
  els.authPanel.hidden = false;
  els.chatPanel.hidden = true;
  els.logout.hidden = true;
  els.notify.hidden = true;
  els.messages.replaceChildren();
  seen.clear();
  inbox.clear();
  dropCursor();
  setStatus('signed out');
}

// ---- live delivery over the plain WebSocket ------------------------------------------

function connect() {
  clearTimeout(reconnectTimer);
  if (!me) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // The handshake authenticates by the HttpOnly jwt_token cookie set at login, which
  // the browser sends on this same-origin upgrade; a token in the URL would end up in
  // logs (nginx's error log prints the request line). `since` asks for what was missed.
  const params = new URLSearchParams();
  const resuming = cursor !== null;
  if (cursor) params.set('since', cursor);
  const query = String(params);
  const ws = new WebSocket(`${scheme}//${location.host}/api/ws/connect${query ? `?${query}` : ''}`);
  socket = ws;
  const live = () => setStatus(`signed in as ${me?.username ?? '?'} · live`);

  ws.addEventListener('open', () => {
    reconnectDelay = 1000;
  });

  ws.addEventListener('message', (event) => {
    if (socket !== ws) return; // replaced or logged out: its frames and cursors are stale
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return; // not one of ours
    }
    if (!frame || typeof frame !== 'object') return;
    switch (frame.type) {
      case 'connection':
        if (resuming) {
          setStatus(`signed in as ${me?.username ?? '?'} · catching up`); // missed messages follow, then `resumed`
        } else {
          live();
          // Live from here on without a replay: whatever came before is history.
          loadHistory().catch((e) => showError(`could not load messages: ${errorText(e)}`));
        }
        refreshInbox();
        break;
      case 'message':
        addMessage(frame.message);
        inbox.arrived(frame.message);
        break;
      case 'direct_message':
        addMessage(frame.message, { direct: true });
        inbox.arrived(frame.message);
        break;
      case 'read':
      case 'read_receipt':
      case 'typing':
        inbox.frame(frame);
        break;
      case 'message_updated':
      case 'message_deleted':
        updateMessage(frame.message);
        break;
      case 'resumed':
        live(); // every missed message has been replayed
        refreshInbox(); // read positions are not replayed: the list has them
        break;
      case 'reload':
        // Too much was missed to replay: read history over REST, keep the new cursor.
        live();
        loadHistory().catch((e) => showError(`could not load messages: ${errorText(e)}`));
        break;
      case 'error':
        // A refused cursor is followed by close code 4003, handled below.
        if (frame.code === 'invalid_cursor') dropCursor();
        else showError(String(frame.error ?? 'socket error'));
        break;
      default:
        break; // pong and anything newer
    }
    keepCursor(frame.cursor); // message, connection, resumed and reload frames carry one
  });

  ws.addEventListener('close', (event) => {
    if (socket !== ws) return; // replaced or logged out
    socket = null;
    if (!me) return;
    if (event.code === INVALID_CURSOR_CLOSE) {
      // Start afresh at once; the new connection's `connection` frame reloads history.
      dropCursor();
      connect();
      return;
    }
    const seconds = Math.round(reconnectDelay / 1000);
    setStatus(`signed in as ${me.username} · reconnecting in ${seconds}s`);
    reconnectTimer = setTimeout(connect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 30_000);
  });
}

function disconnect() {
  clearTimeout(reconnectTimer);
  const ws = socket;
  socket = null;
  ws?.close(1000, 'logout');
}

// ---- flows ------------------------------------------------------------------------------

async function loadHistory() {
  const page = await api('GET', '/api/messages?limit=50');
  // Newest first from the API; show oldest at the top.
  for (const m of [...(page?.messages ?? [])].reverse()) addMessage(m);
}

function refreshInbox() {
  inbox.refresh().catch((e) => showError(`could not load conversations: ${errorText(e)}`));
}

/**
 * Shows one conversation (null: every message): its history, the send form aimed at it, and marks it read.
 * @param {Conversation | null} c
 */
async function openConversation(c) {
  els.recipient.hidden = c !== null;
  if (!c || !me) return;
  const path =
    c.kind === 'room'
      ? `/api/rooms/${encodeURIComponent(c.id.slice('room:'.length))}/messages?limit=50`
      : c.kind === 'direct'
        ? `/api/messages/between/${encodeURIComponent(me.username)}/${encodeURIComponent(c.title)}?limit=50`
        : '/api/messages?limit=50';
  const page = await api('GET', path);
  if (inbox.selected()?.id !== c.id) return; // another one was opened meanwhile
  for (const m of [...(page?.messages ?? [])].reverse()) addMessage(m, { direct: c.kind === 'direct' });
  await inbox.opened();
}

/** @param {User} user */
async function startSession(user) {
  showChat(user);
  showError('');
  cursor = storedCursor(user.id); // after a reload of the page, resume where it was
  connect();
  refreshInbox();
  void push.signedIn(user.id);
  await loadHistory().catch((e) => showError(`could not load messages: ${e.message}`));
}

els.authForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(els.authForm);
  const username = String(form.get('username') ?? '').trim();
  const password = String(form.get('password') ?? '');
  const action = /** @type {HTMLButtonElement | null} */ (event.submitter)?.value ?? 'login';
  try {
    if (action === 'register') {
      const email = String(form.get('email') ?? '').trim();
      if (!email) throw new Error('an email is needed to register');
      await api('POST', '/api/auth/register', { username, email, password });
    }
    const session = await api('POST', '/api/auth/login', { username, password });
    token = session.token;
    els.authForm.reset();
    await startSession(session.user);
  } catch (e) {
    showError(errorText(e));
  }
});

els.sendForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(els.sendForm);
  const chosen = els.files.files;
  // A message of files alone says their names.
  const content = String(form.get('content') ?? '') || [...(chosen ?? [])].map((f) => f.name).join(', ');
  if (!content) return showError('write a message or attach a file');
  let recipient = String(form.get('recipient') ?? '').trim();
  /** @type {Record<string, string>} */
  const body = { content };
  // The conversation shown is where a message goes; with none, the recipient box says.
  const open = inbox.selected();
  if (open) recipient = open.kind === 'direct' ? open.title : '';
  if (open?.kind === 'room') body.room_id = open.id.slice('room:'.length);
  if (replyTo) {
    // A reply goes to the conversation of the message it answers.
    body.reply_to = replyTo.id;
    if (replyTo.room_id) body.room_id = replyTo.room_id;
    else if (replyTo.recipient) recipient = replyTo.sender === me?.username ? replyTo.recipient : replyTo.sender;
    else recipient = '';
  }
  if (recipient) body.recipient = recipient;
  try {
    const attachments = await uploadAll(chosen);
    const message = await api('POST', '/api/messages', attachments.length > 0 ? { ...body, attachments } : body);
    els.files.value = '';
    /** @type {HTMLInputElement} */ (els.sendForm.elements.namedItem('content')).value = '';
    addMessage(message, { direct: Boolean(recipient) });
    replyWith(null);
    inbox.sent();
    showError('');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showAuth();
    showError(errorText(e));
  }
});

els.content.addEventListener('input', () => inbox.typed());

els.logout.addEventListener('click', async () => {
  await push.signingOut();
  disconnect();
  await api('POST', '/api/auth/logout').catch(() => {});
  showAuth();
});

// A still-valid cookie from an earlier visit signs us straight in.
api('GET', '/api/auth/profile')
  .then((user) => startSession(user))
  .catch(() => showAuth());
