import { WebSocketServer } from 'ws';
import { serveWorker } from '../worker.ts';

// The bare baseline of `idle` for plain WebSocket: a ws server that accepts and keeps connections.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
wss.on('listening', () => serveWorker({ port: (wss.address() as { port: number }).port }, () => Promise.resolve(process.memoryUsage().heapUsed)));
