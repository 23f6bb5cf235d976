import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { serveWorker } from '../worker.ts';

// The bare baseline of `idle` for Socket.IO: a socket.io server (default heartbeat) that accepts and keeps connections.
const http = createServer();
new Server(http);
http.listen(0, '127.0.0.1', () =>
  serveWorker({ port: (http.address() as { port: number }).port }, () => Promise.resolve(process.memoryUsage().heapUsed)),
);
