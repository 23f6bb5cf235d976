// The chat rules every transport calls, and the request schemas they validate with.
export * from './audience.ts';
export * from './cursor.ts';
export * from './feed.ts';
export * from './messages.ts';
export * from './numbering.ts';
export * from './rooms.ts';
export * from './schemas.ts';
export * from './users.ts';
export * from './conversations.ts';
export * from './uploads.ts';
