import { createMemoryRouter } from './memory.ts';
import { routerContract } from './contract.ts';

// The in-memory router the gateway's delivery core is unit-tested with
// (services/gateway/src/delivery/core.unit.test.ts) must behave as the Redis one.
const MAX_HELD = 5;

routerContract('in memory', () => {
  const router = createMemoryRouter({ maxHeld: MAX_HELD });
  return Promise.resolve({ router, maxHeld: MAX_HELD, sendRaw: (gateway, raw) => router.sendRaw(gateway, raw), close: () => Promise.resolve() });
});
