// The page's service worker: shows the chat's Web Push notifications
// (docs/webhooks.md#web-push) and brings the page back when one is clicked.
// Registered by push.js only when the user turns notifications on.
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/**
 * What the worker service pushes: `{conversation, title, body, count, seq}`.
 * @param {{ title?: string, body?: string, conversation?: string }} data
 */
function show(data) {
  // One notification per conversation: a newer one replaces the older (the tag).
  return sw.registration.showNotification(data.title ?? 'Chat', { body: data.body ?? '', tag: data.conversation, data });
}

sw.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data?.json() ?? {};
  } catch {
    // Not ours, or not JSON: still say something arrived.
  }
  event.waitUntil(show(data));
});

sw.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    sw.clients.matchAll({ type: 'window' }).then((windows) => {
      const open = windows[0];
      return open ? open.focus() : sw.clients.openWindow('/');
    }),
  );
});
