import { WebSocketServer, WebSocket } from 'ws';
import { serveWorker } from '../worker.ts';

// The bare baseline of `latency` and `fanout`: on a message from any client, send it to every other client.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  });
});
wss.on('listening', () => serveWorker({ port: (wss.address() as { port: number }).port }, () => Promise.resolve(null)));
