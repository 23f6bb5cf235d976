import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { closeRedis, createRedisClient } from '@chat/shared/connections';
import { createRedisRouter, rooms, type Delivery } from '@chat/shared/events';
import { startRedisServer, startTcpProxy, messageFixture } from '@chat/shared/testing';

// Bytes on the wire per routed message between a publisher and Redis:
//
//   node scripts/bench/router-wire.ts [--messages N] [--content-bytes N]
//
// Starts a redis-server of its own, registers one gateway for one room, then
// routes N messages of that room (a Delivery as the API sends it) one after
// the other through a TCP proxy that counts the bytes each way. The first
// messages warm the connection up (the client's handshake, and a script's
// first call on a connection, which carries its text) and are not counted:
// what is printed is the steady state of a long-lived publisher.

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    'content-bytes': { type: 'string', default: '120' },
    warmup: { type: 'string', default: '20' },
  },
});
const total = Number(values.messages);
const warmup = Number(values.warmup);
const contentBytes = Number(values['content-bytes']);

const server = await startRedisServer();
const proxy = await startTcpProxy({ host: '127.0.0.1', port: server.port });
const options = { cluster: undefined, commandTimeoutMs: 10_000 };
const direct = createRedisClient({ ...options, url: server.url });
const proxied = createRedisClient({ ...options, url: proxy.via(server.url) });
const subscriber = direct.duplicate();
const prefix = 'bench:';
const room = rooms.room(randomUUID());

try {
  const setup = createRedisRouter(direct, prefix);
  const router = createRedisRouter(proxied, prefix);
  let frames = 0;
  subscriber.on('message', () => frames++);
  await subscriber.ping();
  await subscriber.subscribe(setup.channel('gw-1'));
  await setup.register('gw-1', [room], 600_000);
  await setup.init(1);

  const delivery = (seq: number): Delivery => ({
    rooms: [room],
    event: 'message',
    seq,
    message: messageFixture({ id: randomUUID(), sender: 'alice_3f9a2c', room_id: room.slice('room:'.length), content: 'x'.repeat(contentBytes) }),
  });

  await proxied.ping();
  let seq = 1;
  for (; seq <= warmup; seq++) await router.route(delivery(seq));
  const before = proxy.bytes();
  for (; seq <= warmup + total; seq++) await router.route(delivery(seq));
  const after = proxy.bytes();
  for (let i = 0; frames < warmup + total; i++) {
    if (i > 500) throw new Error(`the gateway got ${frames} of ${warmup + total} frames`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  const frameJson = JSON.stringify({ event: 'deliver', data: delivery(1) }).length;
  const per = (n: number) => (n / total).toFixed(1);
  console.log(`${total} messages, one room, content ${contentBytes} bytes (the frame's JSON: ${frameJson} bytes)`);
  console.log(`client -> Redis: ${per(after.up - before.up)} bytes per message`);
  console.log(`Redis -> client: ${per(after.down - before.down)} bytes per message`);
} finally {
  await closeRedis(proxied);
  await closeRedis(direct);
  subscriber.disconnect();
  await proxy.close();
  await server.stop();
}
