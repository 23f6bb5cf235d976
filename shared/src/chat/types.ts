/** A stored message as every client sees it, over REST and both socket kinds. */
export interface ChatMessage {
  id: string;
  sender: string;
  recipient: string | null;
  room_id: string | null;
  content: string;
  created_at: string;
}

/** Who is acting: the verified subject of a token. */
export interface Actor {
  id: string;
  username: string;
}

export interface Page {
  limit: number;
  /** Id of the last message of the previous page; the page holds what came before it. */
  before?: string | undefined;
}

export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}
