import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AppEnv } from './env.ts';

export interface RunningServer {
  port: number;
  /**
   * Stops gracefully. For `drainMs` it keeps serving but answers every request
   * with `Connection: close`, so a load balancer stops reusing its pooled
   * connections; once that outlasts the balancer's idle timeout, no request
   * can be in flight on a connection the close below cuts.
   */
  close(drainMs?: number): Promise<void>;
}

/** Listens on `port` (0 picks a free one) and resolves once it accepts connections. */
export function listen(app: Hono<AppEnv>, opts: { host: string; port: number }): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    let draining = false;
    const server = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        async close(drainMs = 0) {
          draining = true;
          if (drainMs > 0) await new Promise((done) => setTimeout(done, drainMs));
          await new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            // Keep-alive sockets would hold close() open until they time out.
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          });
        },
      });
    });
    // Runs before the app writes its response, and writeHead keeps headers set here.
    server.on('request', (_req: unknown, res: ServerResponse) => {
      if (draining) res.setHeader('Connection', 'close');
    });
    server.once('error', reject);
  });
}
