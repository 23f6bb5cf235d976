// The conversation sidebar: the caller's conversations (GET /api/conversations) with
// unread badges, the one shown in the feed, read marks and "is typing" lines
// (docs/protocol.md#conversations-read-state-and-typing). app.js imports it and
// wires it to the feed and the socket. A live message moves its conversation up
// and counts on its badge here; the list is read from the server again (debounced)
// at connect and resume, for a conversation it does not have, and after `read`
// frames, so two tabs of one user stay in step through the server.
// User-supplied text is only ever written with textContent.
/**
 * A row of GET /api/conversations (shared/src/model/conversation.ts).
 * @typedef {object} Conversation
 * @property {string} id `global`, `user:<id>` or `room:<id>`
 * @property {'global' | 'direct' | 'room'} kind
 * @property {string} title
 * @property {number} unread_count
 * @property {boolean} unread_capped
 * @property {string | null} read_up_to
 * @property {boolean | null} online
 * @property {{ id: string } | null} last_message
 */

/**
 * A message, as far as the sidebar reads it.
 * @typedef {{ id: string, sender: string, recipient: string | null, room_id: string | null }} MessageRef
 */

/** How often one conversation's `typing` goes out while the user types (the server drops more). */
const TYPING_EVERY_MS = 2_500;
/** Read the list again this long after the last thing that changed it. */
const REFRESH_DEBOUNCE_MS = 250;

/**
 * @param {{
 *   api: (method: string, path: string, body?: unknown) => Promise<any>,
 *   send: (frame: object) => boolean,
 *   me: () => { id: string, username: string } | null,
 *   list: HTMLElement,
 *   feed: HTMLElement,
 *   typingLine: HTMLElement,
 *   onSelect: (conversation: Conversation | null) => void,
 *   onError: (text: string) => void,
 * }} deps
 */
export function createInbox(deps) {
  /** @type {Conversation[]} */
  let conversations = [];
  /** @type {string | null} the conversation shown (its id); null: every message */
  let selectedId = null;
  /** @type {number | undefined} */
  let refreshTimer;
  /** @type {Map<string, number>} when each conversation's last `typing` went out */
  const typingSent = new Map();
  /** @type {Map<string, { key: string, username: string, until: number }>} who is typing where, by conversation + user */
  const typing = new Map();
  /** @type {number | undefined} */
  let typingTimer;

  /**
   * The feed's key of a conversation: messages carry usernames, so a direct conversation is keyed by the other user's name.
   * @param {Conversation} c
   */
  const keyOf = (c) => (c.kind === 'direct' ? `dm:${c.title}` : c.id);

  /**
   * The key of the conversation a message belongs to, as `keyOf` names it.
   * @param {MessageRef} m
   */
  function keyOfMessage(m) {
    if (m.room_id) return `room:${m.room_id}`;
    if (m.recipient) return `dm:${m.sender === deps.me()?.username ? m.recipient : m.sender}`;
    return 'global';
  }

  const selected = () => conversations.find((c) => c.id === selectedId) ?? null;

  /** Shows the messages of the selected conversation only (all of them with none selected). */
  function filterFeed() {
    const c = selected();
    const key = c ? keyOf(c) : null;
    for (const li of deps.feed.children) {
      if (li instanceof HTMLElement) li.hidden = key !== null && li.dataset.key !== key;
    }
  }

  function render() {
    const items = [
      item(null, 'All messages', 0, false, null),
      ...conversations.map((c) => item(c.id, c.kind === 'room' ? `# ${c.title}` : c.title, c.unread_count, c.unread_capped, c.online)),
    ];
    deps.list.replaceChildren(...items);
  }

  /**
   * @param {string | null} id
   * @param {string} title
   * @param {number} unread
   * @param {boolean} capped
   * @param {boolean | null} online
   */
  function item(id, title, unread, capped, online) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.conversation = id ?? '';
    b.setAttribute('aria-current', String(id === selectedId));
    const name = document.createElement('span');
    name.className = 'title';
    name.textContent = title;
    b.append(name);
    if (online) {
      const dot = document.createElement('span');
      dot.className = 'online';
      dot.textContent = '●';
      dot.title = 'online';
      b.append(dot);
    }
    if (unread > 0) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = capped ? '99+' : String(unread);
      b.append(badge);
    }
    li.append(b);
    return li;
  }

  async function refresh() {
    clearTimeout(refreshTimer);
    const page = await deps.api('GET', '/api/conversations?limit=100');
    conversations = Array.isArray(page?.conversations) ? page.conversations : [];
    render();
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    const failed = (/** @type {unknown} */ e) => deps.onError(`could not load conversations: ${e instanceof Error ? e.message : String(e)}`);
    refreshTimer = setTimeout(() => refresh().catch(failed), REFRESH_DEBOUNCE_MS);
  }

  /** The newest message of the selected conversation in the feed, if any. */
  function newestShown() {
    const c = selected();
    if (!c) return null;
    const key = keyOf(c);
    const mine = [...deps.feed.children].filter((li) => li instanceof HTMLElement && li.dataset.key === key);
    const last = mine.at(-1);
    return last instanceof HTMLElement ? (last.dataset.id ?? null) : null;
  }

  /** Marks the selected conversation read up to its newest message shown, while the page is in view. */
  async function markShownRead() {
    const c = selected();
    const newest = newestShown();
    if (!c || !newest || document.visibilityState !== 'visible') return;
    await deps.api('PUT', `/api/conversations/${encodeURIComponent(c.id)}/read`, { message_id: newest });
    refreshSoon();
  }

  /**
   * Puts the "read" mark on my last message in the direct conversation `key` at or before `messageId`.
   * @param {string} key
   * @param {string} messageId
   */
  function showReadMark(key, messageId) {
    const me = deps.me();
    const lis = [...deps.feed.children].filter((li) => li instanceof HTMLElement && li.dataset.key === key);
    const upTo = lis.findIndex((li) => li instanceof HTMLElement && li.dataset.id === messageId);
    if (upTo < 0 || !me) return;
    const mineBefore = lis.slice(0, upTo + 1).filter((li) => li instanceof HTMLElement && li.dataset.sender === me.username);
    const mark = mineBefore.at(-1);
    if (!(mark instanceof HTMLElement)) return;
    for (const li of lis) li.classList.remove('read');
    mark.classList.add('read');
  }

  /** Reads where the other side of the selected direct conversation is, for its read mark. */
  async function loadReadMark() {
    const c = selected();
    const me = deps.me();
    if (!c || c.kind !== 'direct' || !me) return;
    const page = await deps.api('GET', `/api/conversations/${encodeURIComponent(c.id)}/reads`);
    const theirs = (page?.reads ?? []).find((/** @type {{ user_id: string, message_id: string | null }} */ r) => r.user_id !== me.id);
    if (theirs?.message_id) showReadMark(keyOf(c), theirs.message_id);
  }

  function renderTyping() {
    clearTimeout(typingTimer);
    const now = Date.now();
    for (const [k, t] of typing) if (t.until <= now) typing.delete(k);
    const c = selected();
    const key = c ? keyOf(c) : null;
    const names = [...typing.values()].filter((t) => key === null || t.key === key).map((t) => t.username);
    deps.typingLine.textContent = names.length === 0 ? '' : `${[...new Set(names)].join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
    const next = Math.min(...[...typing.values()].map((t) => t.until));
    if (Number.isFinite(next)) typingTimer = setTimeout(renderTyping, Math.max(next - now, 50));
  }

  deps.list.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('button[data-conversation]') : null;
    if (!(target instanceof HTMLElement)) return;
    select(target.dataset.conversation || null);
  });

  /** @param {string | null} id */
  function select(id) {
    selectedId = id;
    render();
    filterFeed();
    renderTyping();
    deps.onSelect(selected());
  }

  return {
    refresh,
    select,
    selected,
    keyOfMessage,
    /**
     * After the feed shows a message (live or from history): hidden unless it is of the conversation shown.
     * @param {MessageRef} m
     */
    shown(m) {
      const c = selected();
      if (c && keyOf(c) !== keyOfMessage(m)) {
        const li = [...deps.feed.children].find((node) => node instanceof HTMLElement && node.dataset.id === m.id);
        if (li instanceof HTMLElement) li.hidden = true;
      }
    },
    /**
     * A message arrived live: the badges change, and if it is of the conversation shown, that is read.
     * @param {MessageRef | null | undefined} m
     */
    arrived(m) {
      if (!m) return;
      const key = keyOfMessage(m);
      const known = conversations.find((c) => keyOf(c) === key);
      // A conversation the list has moves to the top here, its badge counted here; a new one needs the server's list.
      if (!known) return refreshSoon();
      conversations = [known, ...conversations.filter((c) => c !== known)];
      const open = selected() === known && document.visibilityState === 'visible';
      if (open) {
        markShownRead().catch(() => {}); // best effort: the badge still says it
      } else if (m.sender !== deps.me()?.username && !known.unread_capped) {
        // As the server counts: up to 100, then capped.
        known.unread_capped = known.unread_count >= 100;
        known.unread_count = Math.min(known.unread_count + 1, 100);
      }
      render();
    },
    /** After the selected conversation's history was added to the feed. */
    async opened() {
      filterFeed();
      await markShownRead();
      await loadReadMark();
    },
    /** The user typed in the message box: say so, at most every TYPING_EVERY_MS per conversation. */
    typed() {
      const c = selected();
      if (!c || c.kind === 'global') return;
      const last = typingSent.get(c.id) ?? 0;
      if (Date.now() - last < TYPING_EVERY_MS) return;
      if (deps.send({ type: 'typing', conversation: c.id })) typingSent.set(c.id, Date.now());
    },
    /**
     * A `read`, `read_receipt` or `typing` frame.
     * @param {any} frame
     */
    frame(frame) {
      if (frame.type === 'read') refreshSoon(); // another tab (or this one) read: the badges follow
      if (frame.type === 'read_receipt' && typeof frame.conversation === 'string' && typeof frame.message_id === 'string') {
        // A direct conversation is keyed by the other user's name: the reader's.
        if (frame.conversation.startsWith('user:')) showReadMark(`dm:${frame.username}`, frame.message_id);
      }
      if (frame.type === 'typing' && typeof frame.conversation === 'string' && typeof frame.username === 'string') {
        const key = frame.conversation.startsWith('user:') ? `dm:${frame.username}` : frame.conversation;
        typing.set(`${frame.conversation}\n${frame.user}`, {
          key,
          username: frame.username,
          until: Date.parse(frame.expires_at) || Date.now() + 6_000,
        });
        renderTyping();
      }
    },
    /** This user sent a message: the next keystroke may say "typing" again at once, and the list moves. */
    sent() {
      typingSent.delete(selected()?.id ?? '');
      refreshSoon();
    },
    clear() {
      conversations = [];
      selectedId = null;
      typing.clear();
      typingSent.clear();
      deps.list.replaceChildren();
      renderTyping();
    },
  };
}
