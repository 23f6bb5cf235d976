export * from './frame.ts';
export * from './memory.ts';
export * from './redis.ts';
export * from './types.ts';
