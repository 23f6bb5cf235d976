// Response shapes: rules return domain values, and each transport shapes them here, once.
export * from './errors.ts';
export * from './health.ts';
export * from './pages.ts';
export * from './presence.ts';
export * from './schemas.ts';
