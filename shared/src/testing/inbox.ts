/** Collects what a test receives and lets it wait for a particular item. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters = new Set<(item: T) => boolean>();

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.waiters) if (waiter(item)) this.waiters.delete(waiter);
  }

  /**
   * Resolves with the first item, already received or still to come, that
   * matches. The timeout only turns a missing item into a readable failure;
   * nothing waits on it once the item arrives.
   */
  next(match: (item: T) => boolean, what = 'an expected item', timeoutMs = 5_000): Promise<T> {
    const seen = this.items.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.items)}`));
      }, timeoutMs);
      const waiter = (item: T) => {
        if (!match(item)) return false;
        clearTimeout(timer);
        resolve(item);
        return true;
      };
      this.waiters.add(waiter);
    });
  }

  count(match: (item: T) => boolean): number {
    return this.items.filter(match).length;
  }
}
