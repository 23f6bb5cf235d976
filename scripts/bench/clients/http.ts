import http from 'node:http';

export interface Poster {
  /** POSTs `body` (JSON) and resolves with the status once the whole answer has arrived; 0 on a network error. */
  post(body: string): Promise<number>;
  close(): void;
}

/**
 * One client's keep-alive connection pool to one origin: the same code drives
 * the cluster (through nginx) and the bare baseline server.
 */
export function createPoster(opts: { url: string; token: string; senderId: string; localAddress?: string }): Poster {
  const target = new URL(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const headers = {
    'content-type': 'application/json',
    authorization: `Bearer ${opts.token}`,
    // Only the bare server reads it (it has no authentication); the API ignores it.
    'x-bench-sender': opts.senderId,
  };
  return {
    post(body) {
      return new Promise((resolve) => {
        const req = http.request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            agent,
            headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', () => resolve(0));
          },
        );
        req.setTimeout(30_000, () => req.destroy());
        req.on('error', () => resolve(0));
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}
