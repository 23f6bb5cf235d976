// Test helpers for every package's tests (not for production code).
export * from './database.ts';
export * from './inbox.ts';
export * from './redis.ts';
