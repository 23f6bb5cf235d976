// "Notify me": Web Push for when this user is away (docs/webhooks.md#web-push).
// app.js imports it. Shown only where the browser can push and the server has a
// VAPID key (GET /api/push/key); the subscription is removed on sign-out, while
// the session still allows it.

/** Per user: another account signed in on this browser has subscriptions of its own. */
const subscriptionKey = (/** @type {string} */ userId) => `chat.push-subscription.${userId}`;

/** @param {string} base64url the VAPID public key */
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/**
 * @param {{
 *   button: HTMLButtonElement,
 *   api: (method: string, path: string, body?: unknown) => Promise<any>,
 *   onError: (text: string) => void,
 * }} deps
 */
export function createPushToggle({ button, api, onError }) {
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  /** @type {string | null} */
  let publicKey = null;
  /** @type {string | null} */
  let userId = null;

  /** The id the API gave this browser's subscription for the signed-in user, if it is on. */
  const storedId = () => (userId ? localStorage.getItem(subscriptionKey(userId)) : null);

  function label() {
    button.textContent = storedId() ? 'Notifications on' : 'Notify me';
    button.setAttribute('aria-pressed', storedId() ? 'true' : 'false');
  }

  async function turnOn() {
    if ((await Notification.requestPermission()) !== 'granted') throw new Error('this browser blocks notifications for this page');
    const registration = await navigator.serviceWorker.register('/sw.js');
    await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(/** @type {string} */ (publicKey)),
    });
    const stored = await api('POST', '/api/push/subscriptions', subscription.toJSON());
    if (userId) localStorage.setItem(subscriptionKey(userId), stored.id);
  }

  async function turnOff() {
    const id = storedId();
    if (userId) localStorage.removeItem(subscriptionKey(userId));
    if (id) await api('DELETE', `/api/push/subscriptions/${encodeURIComponent(id)}`).catch(() => {});
    const registration = await navigator.serviceWorker.getRegistration();
    await (await registration?.pushManager.getSubscription())?.unsubscribe();
  }

  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      if (storedId()) await turnOff();
      else await turnOn();
      onError('');
    } catch (e) {
      onError(`could not turn notifications on: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      button.disabled = false;
      label();
    }
  });

  return {
    /**
     * After sign-in: offer the button if push can work here, showing whether it is
     * on (a subscription the server dropped, say after the push service expired it, is not).
     * @param {string} id the signed-in user's id
     */
    async signedIn(id) {
      userId = id;
      if (!supported) return;
      publicKey = await api('GET', '/api/push/key').then(
        (/** @type {{ public_key: string }} */ body) => body.public_key,
        () => null,
      );
      const known = storedId();
      if (publicKey !== null && known) {
        const { subscriptions } = await api('GET', '/api/push/subscriptions').catch(() => ({ subscriptions: [{ id: known }] }));
        if (!subscriptions.some((/** @type {{ id: string }} */ s) => s.id === known)) localStorage.removeItem(subscriptionKey(id));
      }
      button.hidden = publicKey === null;
      label();
    },
    /** Before sign-out: this browser stops getting this user's notifications. */
    async signingOut() {
      button.hidden = true;
      if (supported && storedId()) await turnOff().catch(() => {});
    },
  };
}
