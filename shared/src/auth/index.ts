// The auth package's public surface: accounts, tokens, revocation, the authenticator.
export * from './accounts.ts';
export * from './authenticator.ts';
export * from './csrf.ts';
export * from './passwords.ts';
export * from './revocation.ts';
export * from './tokens.ts';
export * from './access-tokens.ts';
export * from './scopes.ts';
