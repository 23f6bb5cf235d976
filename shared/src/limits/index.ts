// Cluster-wide rate limits (counted in Redis) and the client address they key on.
export * from './client-address.ts';
export * from './rate-limits.ts';
export * from './throttle.ts';
