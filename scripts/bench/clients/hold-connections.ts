import { io } from 'socket.io-client';
import { WebSocket } from 'ws';

// Opens N connections of one kind to a gateway, each until its greeting
// arrived, tells the parent (IPC) once all are open, and holds them until it is
// killed. Started by scripts/bench/heap-per-connection.ts:
//
//   node hold-connections.ts <ws|sio> <port> <n> <tokens as a JSON array>

const [kind, port, count, tokensJson] = process.argv.slice(2);
const tokens = JSON.parse(tokensJson ?? '[]') as string[];
const n = Number(count);
const held: unknown[] = [];
let open = 0;
const greeted = () => {
  if (++open === n) process.send?.('open');
};
for (let i = 0; i < n; i++) {
  const token = tokens[i % tokens.length] ?? '';
  if (kind === 'ws') {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws/connect?token=${token}`);
    ws.once('message', greeted);
    held.push(ws);
  } else {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false });
    socket.once('resumed', greeted);
    held.push(socket);
  }
  // A hundred at a time: the gateway's accept backlog stays small.
  if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 50));
}
