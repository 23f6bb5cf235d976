import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (PostgreSQL, Redis) that a test can
 * make misbehave like a network does: go silent, or go away.
 */
export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  /**
   * From now on nothing answers: open connections carry no more data either
   * way, and new ones are accepted and left silent. Like a server that hangs.
   */
  freeze(): void;
  /** New connections reach the server again; those frozen stay silent. */
  thaw(): void;
  /** Cuts every connection and stops listening, so new ones are refused. Like a server that is down. */
  close(): Promise<void>;
  /** Bytes passed on so far, over every connection: client to server (`up`) and server to client (`down`). */
  bytes(): { up: number; down: number };
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket | undefined; silent: boolean }>();
  let frozen = false;
  const passed = { up: 0, down: 0 };

  const server = createServer((client) => {
    const pair: { client: Socket; upstream: Socket | undefined; silent: boolean } = { client, upstream: undefined, silent: frozen };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    // A silent pair still reads (and discards), so the client's own close is seen.
    client.on('data', (chunk: Buffer) => {
      if (pair.silent || !pair.upstream) return;
      passed.up += chunk.length;
      pair.upstream.write(chunk);
    });
    client.on('end', drop);
    if (pair.silent) return;
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (pair.silent) return;
      passed.down += chunk.length;
      client.write(chunk);
    });
    // A silent network delivers no close either; only a live pair passes the server's on.
    upstream.on('error', () => (pair.silent ? undefined : drop()));
    upstream.on('close', () => (pair.silent ? undefined : drop()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  return {
    port,
    via(url) {
      const proxied = new URL(url);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(port);
      return proxied.toString();
    },
    freeze() {
      frozen = true;
      for (const pair of pairs) pair.silent = true;
    },
    thaw() {
      frozen = false;
    },
    bytes: () => ({ ...passed }),
    close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
