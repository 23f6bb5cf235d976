import type { TokenClaims } from '@chat/shared/auth';

/** A connection whose token runs out at `claims.exp`. */
export interface Expiring {
  readonly claims: TokenClaims;
  /** Ends the connection because its token expired. */
  expire(): void;
}

/**
 * Ends connections when their token expires, within a second. One timer for
 * the whole gateway and the connections bucketed by the second they expire
 * in, rather than a timer and its closures for each of thousands of
 * connections that will almost all close long before.
 */
export class ExpiryWatch {
  readonly #buckets = new Map<number, Set<Expiring>>();
  readonly #timer: NodeJS.Timeout;
  #swept: number;

  constructor(now = Date.now()) {
    this.#swept = Math.floor(now / 1000);
    this.#timer = setInterval(() => this.sweep(), 1_000);
    this.#timer.unref();
  }

  /** Watches `connection`; an already expired one is ended at once. */
  watch(connection: Expiring): void {
    const second = connection.claims.exp;
    if (second <= this.#swept) return connection.expire();
    let bucket = this.#buckets.get(second);
    if (!bucket) this.#buckets.set(second, (bucket = new Set()));
    bucket.add(connection);
  }

  unwatch(connection: Expiring): void {
    const bucket = this.#buckets.get(connection.claims.exp);
    if (bucket?.delete(connection) && bucket.size === 0) this.#buckets.delete(connection.claims.exp);
  }

  /** Ends every connection whose token expired by `now` (the timer calls it each second). */
  sweep(now = Date.now()): void {
    const until = Math.floor(now / 1000);
    // A token is valid through its `exp` second's start: jose refuses it once now >= exp.
    for (let second = this.#swept + 1; second <= until; second++) {
      const bucket = this.#buckets.get(second);
      if (!bucket) continue;
      this.#buckets.delete(second);
      for (const connection of bucket) connection.expire();
    }
    this.#swept = until;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
