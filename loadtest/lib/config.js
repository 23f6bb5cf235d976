// Settings shared by every k6 script: where the cluster is and how to read the
// environment (`k6 run -e NAME=value` or the shell's environment).

export const BASE_URL = (__ENV.BASE_URL || 'http://localhost:8080').replace(/\/+$/, '');
/** http -> ws, https -> wss. */
export const WS_URL = toWsUrl(BASE_URL);

/** @param {string} httpUrl */
export function toWsUrl(httpUrl) {
  return httpUrl.replace(/\/+$/, '').replace(/^http/, 'ws');
}

/**
 * A whole number >= 0 from the environment.
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function intEnv(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`);
  return n;
}

/**
 * A number >= 0 from the environment (fractions allowed).
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function numEnv(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got "${value}"`);
  return n;
}

/** @param {number} length */
export function randomId(length) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/**
 * The gateway a scenario aims at directly (reconnect-storm): `GATEWAY_URL`, else
 * the first of `GATEWAY_URLS`, else nginx (BASE_URL), which spreads clients over
 * every gateway instead.
 * @returns {{ url: string, direct: boolean }}
 */
export function gatewayUrl() {
  const first = (__ENV.GATEWAY_URL || (__ENV.GATEWAY_URLS || '').split(',')[0] || '').trim();
  return first ? { url: first.replace(/\/+$/, ''), direct: true } : { url: BASE_URL, direct: false };
}
