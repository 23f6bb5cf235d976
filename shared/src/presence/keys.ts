/**
 * Cluster presence layout in Redis. Each gateway owns one hash of
 * user id -> open connections, and renews a lease on itself in a sorted set
 * (score = lease expiry in ms). Readers ignore gateways whose lease ran out,
 * so a gateway that died without cleaning up stops counting once its lease ends.
 */
export const presenceKeys = (prefix: string) => ({
  gateways: `${prefix}presence:gateways`,
  gateway: (gatewayId: string) => `${prefix}presence:gw:${gatewayId}`,
});
