/**
 * Cluster presence layout in Redis. Each gateway process owns one hash of
 * user id -> open connections, under an id of its own (`<GATEWAY_ID>:<random>`,
 * see writer.ts), and renews a lease on itself in a sorted set
 * (score = lease expiry in ms). Readers ignore gateways whose lease ran out,
 * so a gateway that died without cleaning up stops counting once its lease ends.
 *
 * The `{presence}` hash tag keeps every key in one Redis Cluster slot, so the
 * counting script below may touch them all.
 */
export const presenceKeys = (prefix: string) => ({
  gateways: `${prefix}{presence}:gateways`,
  gatewayPrefix: `${prefix}{presence}:gw:`,
  gateway: (id: string) => `${prefix}{presence}:gw:${id}`,
});
