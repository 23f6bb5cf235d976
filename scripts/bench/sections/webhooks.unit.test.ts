import { describe, expect, it } from 'vitest';
import { recipientOf } from './webhooks.ts';

describe('webhooks section: who message n goes to', () => {
  it('never the sender, and every user receives as many messages as it sends', () => {
    for (const users of [2, 3, 20, 100]) {
      const received = new Array<number>(users).fill(0);
      const total = users * (users - 1) * 3;
      let toSelf = 0;
      for (let n = 0; n < total; n++) {
        const to = recipientOf(n, users);
        if (to === n % users) toSelf++;
        received[to] = (received[to] ?? 0) + 1;
      }
      expect(toSelf).toBe(0);
      expect(received).toEqual(new Array<number>(users).fill(total / users));
    }
  });
});
