export * from './publisher.ts';
export * from './rooms.ts';
export * from './router/index.ts';
export * from './safe-publish.ts';
export * from './safe-subscribe.ts';
export * from './schemas.ts';
export * from './types.ts';
export * from './frames.ts';
