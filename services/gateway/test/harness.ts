import { Writable } from 'node:stream';
import { io as ioClient, type Socket } from 'socket.io-client';
import { WebSocket, type ClientOptions } from 'ws';
import { afterEach, expect } from 'vitest';
import { loadGatewayConfig, type GatewayConfig } from '@chat/shared/config';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, type Metrics, startMetricsServer } from '@chat/shared/metrics';
import { Inbox } from '@chat/shared/testing';
import { startApi, testEnv, type TestApi } from '../../api/test/harness.ts';
import { createGateway, type Gateway } from '../src/gateway.ts';
import { GATEWAY_NODE_FLAGS } from '../../../scripts/cluster/cluster.ts';
import { frameContract, loadAsyncApi } from './frame-contract.ts';

/**
 * Every frame and event the test clients below receive, and every ack, is
 * checked against docs/asyncapi.yaml; what does not conform fails the test
 * that received it, so every gateway test is a protocol contract test too.
 */
const contract = frameContract(loadAsyncApi());
const contractProblems: string[] = [];
const checkContract = (problems: string[]) => contractProblems.push(...problems);
afterEach(() => {
  const found = contractProblems.splice(0);
  expect(found, 'frames that do not match docs/asyncapi.yaml').toEqual([]);
});

/** What a resume cursor looks like on the wire (opaque to clients; tests only check it is one). */
export const CURSOR = /^[mu]1\.[0-9a-z]+\.[\w-]{16}$/;

export interface TestGateway {
  url: string;
  port: number;
  config: GatewayConfig;
  gateway: Gateway;
  /** The gateway's own metrics endpoint (`METRICS_PORT` 0), as main.ts serves it. */
  metricsUrl: string;
  metrics: Metrics;
  logs: string[];
  close(): Promise<void>;
}

/** A gateway's environment: the shared test Redis (a cluster on a cluster run) unless `env` names a Redis of its own. */
function gatewayEnv(prefix: string, env: Record<string, string> = {}): Record<string, string> {
  return testEnv({ REDIS_PREFIX: prefix, LOG_LEVEL: 'debug', ...env });
}

/** Starts a real gateway on a random port, sharing Redis prefix (the cluster) with the given API. */
export async function startGateway(prefix: string, env: Record<string, string> = {}): Promise<TestGateway> {
  const config = loadGatewayConfig(gatewayEnv(prefix, env));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: config.logLevel, service: 'gateway', destination });
  const metrics = createMetrics({ service: 'gateway' });
  const conn = openConnections(config, logger, () => metrics.dependencyErrors.inc({ dependency: 'postgres' }));
  conn.redis.on('error', () => metrics.dependencyErrors.inc({ dependency: 'redis' }));
  const { auth, messages, conversations, audience, feed } = createChatCore(config, conn, logger, { metrics });
  const gateway = createGateway({
    config,
    logger,
    auth,
    messages,
    conversations,
    audience,
    feed,
    redis: conn.redis,
    health: createHealthCheck(conn),
    metrics,
  });
  const port = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const metricsServer = await startMetricsServer(metrics.registry, config.metrics);
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    gateway,
    metricsUrl: `http://127.0.0.1:${metricsServer.port}/metrics`,
    metrics,
    logs,
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
      await metricsServer.close();
      await closeConnections(conn);
    },
  };
}

export interface Frame {
  type: string;
  message?: { id: string; content: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface WsClient {
  ws: WebSocket;
  inbox: Inbox<Frame>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
}

/** Opens the plain endpoint and resolves after the server's `connection` frame. */
export async function connectWs(
  gw: TestGateway,
  token: string | undefined,
  opts: { via?: 'query' | 'header' | 'cookie'; since?: string } & ClientOptions = {},
): Promise<WsClient> {
  const { via = 'query', since, ...clientOptions } = opts;
  const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
  if (since !== undefined) url.searchParams.set('since', since);
  const headers: Record<string, string> = { ...clientOptions.headers };
  if (token && via === 'query') url.searchParams.set('token', token);
  if (token && via === 'header') headers.authorization = `Bearer ${token}`;
  if (token && via === 'cookie') headers.cookie = `jwt_token=${token}`;
  const ws = new WebSocket(url, { ...clientOptions, headers });
  const inbox = new Inbox<Frame>();
  ws.on('message', (data) => {
    const frame = JSON.parse((data as Buffer).toString('utf8')) as Frame;
    checkContract(contract.wsFrame(frame));
    inbox.push(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () => resolve());
  });
  await inbox.next((f) => f.type === 'connection', 'the connection frame');
  return { ws, inbox, closed, send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) };
}

/** Resolves with the HTTP status and the (JSON) body of a refused plain-WebSocket handshake. */
export function refusedWs(
  gw: TestGateway,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
  if (token) url.searchParams.set('token', token);
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      // 'close' too: the gateway destroys the socket right after writing the answer.
      const done = () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the test sees the text
        }
        resolve({ status: res.statusCode ?? 0, body });
        ws.terminate();
      };
      res.once('end', done);
      res.once('close', done);
    });
    ws.once('open', () => reject(new Error('handshake was accepted')));
    ws.once('error', () => {});
  });
}

export interface IoEvent {
  event: string;
  payload: { id?: string; content?: string; [key: string]: unknown };
}

export interface IoClient {
  socket: Socket;
  inbox: Inbox<IoEvent>;
  disconnected: Promise<string>;
}

export async function connectIo(
  gw: TestGateway,
  token: string | undefined,
  opts: { transports?: Array<'polling' | 'websocket'>; headers?: Record<string, string>; since?: unknown } = {},
): Promise<IoClient> {
  const socket = ioClient(gw.url, {
    auth: { ...(token ? { token } : {}), ...(opts.since === undefined ? {} : { since: opts.since }) },
    transports: opts.transports ?? ['websocket'],
    extraHeaders: opts.headers,
    reconnection: false,
    forceNew: true,
  });
  const inbox = new Inbox<IoEvent>();
  socket.onAny((event: string, payload: IoEvent['payload']) => {
    checkContract(contract.ioEvent(event, payload));
    inbox.push({ event, payload });
  });
  const disconnected = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return { socket, inbox, disconnected };
}

/** Emits a command over Socket.IO and resolves with its acknowledgement, checked against docs/asyncapi.yaml. */
export async function emitCommand<A extends { ok: boolean }>(client: IoClient, name: string, body: unknown): Promise<A> {
  const ack = (await client.socket.timeout(5_000).emitWithAck(name, body)) as A;
  checkContract(contract.ioAck(ack));
  return ack;
}

/** Sends over Socket.IO and resolves with the acknowledgement. */
export function emitMessage(client: IoClient, body: unknown): Promise<{ ok: boolean; message?: { id: string }; error?: string; code?: string }> {
  return emitCommand(client, 'message', body);
}

export interface GatewayProcess {
  url: string;
  port: number;
  output: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Runs `main.ts` as a real child process, for what only a process can show: SIGKILL and SIGTERM. */
export async function spawnGateway(prefix: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, 'services/gateway/src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...gatewayEnv(prefix, { LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        output.push(line);
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'gateway listening' && entry.port) resolve(entry.port);
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${output.join('\n')}`)));
  });
  return { url: `http://127.0.0.1:${port}`, port, output, exited, kill: (signal) => child.kill(signal) };
}

/**
 * A resume replays from the log only what the gateway has applied when the
 * client comes back; a message still on its way through Redis arrives live
 * after `resumed` instead (docs/architecture.md#the-delivery-path). Tests that
 * expect a message *replayed* wait for the gateway to have applied it first:
 * the sender's own connection there gets it once applied, and a gateway applies
 * in log order, so everything sent before it is applied too. Without this they
 * race the publish, which on a Redis Cluster takes one more hop (node to node).
 * Open it before sending; `applied` resolves once the message was delivered there.
 */
export async function watchGateway(
  gw: TestGateway,
  sender: { token: string },
): Promise<{ applied(messageId: string): Promise<void>; close(): void }> {
  const watcher = await connectWs(gw, sender.token);
  return {
    async applied(messageId) {
      await watcher.inbox.next((f) => f.message?.id === messageId, `message ${messageId} applied on the gateway`);
    },
    close: () => watcher.ws.close(),
  };
}

/** One API and two gateways sharing a Redis prefix: the smallest cluster that crosses gateways. */
export async function startTwoGateways(): Promise<{ api: TestApi; g1: TestGateway; g2: TestGateway; close(): Promise<void> }> {
  const api = await startApi();
  const [g1, g2] = await Promise.all([startGateway(api.config.redis.prefix), startGateway(api.config.redis.prefix)]);
  return {
    api,
    g1,
    g2,
    async close() {
      await Promise.all([g1.close(), g2.close()]);
      await api.close();
    },
  };
}
