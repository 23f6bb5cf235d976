/** Who is acting: the verified subject of a token. */
export interface Actor {
  id: string;
  username: string;
}
