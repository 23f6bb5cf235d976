export interface Page {
  limit: number;
  /** Id of the last message of the previous page; the page holds what came before it. */
  before?: string | undefined;
}

export interface PageResult<T> {
  items: T[];
  nextCursor: string | null;
}
