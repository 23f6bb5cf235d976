import { changeMessage, postMessage, type User } from './rest.ts';
import { ACK_TIMEOUT_MS, type SendTransport } from './transport.ts';

/** `POST /api/messages` with the key as `Idempotency-Key`. */
export function restTransport(user: User): SendTransport {
  return {
    kind: 'rest',
    user,
    send: (body, key) => postMessage(user, body, key, ACK_TIMEOUT_MS),
    change: (change, key) => changeMessage(user, change, key, ACK_TIMEOUT_MS),
    close: () => {},
  };
}
