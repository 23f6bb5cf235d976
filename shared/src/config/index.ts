export * from './api.ts';
export * from './cluster.ts';
export * from './common.ts';
export * from './env.ts';
export * from './gateway.ts';
export * from './metrics.ts';
export * from './migrate.ts';
export * from './describe.ts';
