/** Who is acting: the verified subject of a token. */
export interface Actor {
  id: string;
  username: string;
  /** An access token's scopes (auth/scopes.ts); undefined for a session, which may do everything. */
  scopes?: readonly string[];
}
