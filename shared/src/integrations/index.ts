// Webhooks and Web Push: their rules (managed over the API) and what the worker sends with.
export * from './outbound.ts';
export * from './payloads.ts';
export * from './signature.ts';
export * from './targets.ts';
export * from './webhooks.ts';
export * from './webhook-queue.ts';
export * from './push.ts';
