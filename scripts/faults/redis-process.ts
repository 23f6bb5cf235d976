import { startRedisServer } from '@chat/shared/testing';

/** The suite's own redis-server: it may be killed and started again, empty, on the same port. */
export interface OwnRedis {
  url: string;
  /** SIGKILL; resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts a fresh, empty server on the same port; resolves once it answers. */
  start(): Promise<void>;
  /** Ends it whatever state it is in; safe to call twice. */
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  let server = await startRedisServer();
  const { url, port } = server;
  return {
    url,
    kill: () => server.kill(),
    async start() {
      server = await startRedisServer(port);
    },
    stop: () => server.stop(),
  };
}
