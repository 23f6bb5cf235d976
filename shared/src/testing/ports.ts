import { createServer } from 'node:net';

/**
 * A port nothing listens on right now: connecting to it is refused. Another
 * process could take it later, which is fine for the moments a test needs it.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
