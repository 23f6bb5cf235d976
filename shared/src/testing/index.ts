// Test helpers for every package's tests (not for production code).
export * from './database.ts';
export * from './inbox.ts';
export * from './redis.ts';
export * from './ports.ts';
export * from './redis-server.ts';
export * from './redis-cluster.ts';
export * from './tcp-proxy.ts';
export * from './schema-document.ts';
export * from './metrics-text.ts';
export * from './messages.ts';
export * from './seaweedfs.ts';
export * from './files.ts';
