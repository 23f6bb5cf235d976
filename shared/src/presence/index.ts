export * from './keys.ts';
export * from './reader.ts';
export * from './writer.ts';
