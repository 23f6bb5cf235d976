import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One service's metrics: its own registry (no prom-client globals) and every family
 * the services report. Label values are bounded: route patterns, methods, statuses,
 * transports, socket kinds, outcomes, dependency names; never ids or raw paths.
 */
export interface Metrics {
  /** False with METRICS_ENABLED=false: nothing serves the registry, so transports skip their timings. */
  enabled: boolean;
  registry: Registry;
  httpRequestDuration: Histogram<'route' | 'method' | 'status'>;
  messagesStored: Counter<'transport'>;
  socketConnections: Gauge<'kind'>;
  deliveries: Counter<'kind'>;
  deliveryLatency: Histogram<'kind'>;
  resumes: Counter<'outcome'>;
  clusterEventsReceived: Counter<'event'>;
  clusterEventsDelivered: Counter<'event'>;
  ephemeralRouted: Counter<'event'>;
  ephemeralRoutedFrames: Counter<'event'>;
  ephemeralSent: Counter<'event' | 'kind'>;
  ephemeralCoalesced: Counter<'event'>;
  uploadBytes: Counter;
  uploadRefusals: Counter<'reason'>;
  lostFrames: Counter;
  routeOutcomes: Counter<'outcome'>;
  replayedMessages: Counter;
  passwordHashQueueDepth: Gauge;
  passwordHashRefusals: Counter;
  dependencyErrors: Counter<'dependency'>;
  webhookAttempts: Counter<'outcome'>;
  webhookAttemptDuration: Histogram;
  webhooksPaused: Counter;
  pushNotifications: Counter<'outcome'>;
}

/**
 * Creates a fresh registry with the default process metrics (event-loop lag
 * included) and the chat families. Disabled, it collects no process metrics
 * and the counters count into a registry nobody reads.
 */
export function createMetrics(opts: { service: string; enabled?: boolean }): Metrics {
  const enabled = opts.enabled ?? true;
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  if (enabled) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    enabled,
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    messagesStored: new Counter({
      name: 'chat_messages_stored_total',
      help: 'Messages stored (not duplicates) by transport',
      labelNames: ['transport'],
      registers,
    }),
    socketConnections: new Gauge({ name: 'chat_socket_connections', help: 'Open socket connections by kind', labelNames: ['kind'], registers }),
    deliveries: new Counter({ name: 'chat_deliveries_total', help: 'Local deliveries by kind', labelNames: ['kind'], registers }),
    deliveryLatency: new Histogram({
      name: 'chat_delivery_latency_seconds',
      help: "From a message's store (its created_at, the database clock) to its local delivery on a gateway, by kind; once per message and kind, not per connection",
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    clusterEventsReceived: new Counter({
      name: 'chat_cluster_events_received_total',
      help: 'Cluster events (routed frames) this gateway received, by event: what targeted fan-out sent it',
      labelNames: ['event'],
      registers,
    }),
    clusterEventsDelivered: new Counter({
      name: 'chat_cluster_events_delivered_total',
      help: 'Cluster events that reached at least one local connection, by event',
      labelNames: ['event'],
      registers,
    }),
    ephemeralRouted: new Counter({
      name: 'chat_ephemeral_routed_total',
      help: "Ephemeral events this process routed, by event (presence: one per user's first connection or last disconnection in the cluster)",
      labelNames: ['event'],
      registers,
    }),
    ephemeralRoutedFrames: new Counter({
      name: 'chat_ephemeral_routed_frames_total',
      help: "Frames the router sent for them, by event: one per gateway holding a connection in the event's rooms, so bounded by the user's contacts, never by the cluster",
      labelNames: ['event'],
      registers,
    }),
    ephemeralSent: new Counter({
      name: 'chat_ephemeral_sent_total',
      help: 'Ephemeral events (presence) sent to local connections after coalescing, by event and socket kind: one per connection and change',
      labelNames: ['event', 'kind'],
      registers,
    }),
    uploadBytes: new Counter({
      name: 'chat_upload_bytes_total',
      help: 'Bytes of files stored by uploads that succeeded',
      registers,
    }),
    uploadRefusals: new Counter({
      name: 'chat_upload_refusals_total',
      help: 'Uploads refused, by reason: size (over UPLOAD_MAX_BYTES), type (content not allowed), empty, daily_bytes (UPLOAD_DAILY_BYTES used up), slow (idle or over UPLOAD_TIMEOUT)',
      labelNames: ['reason'],
      registers,
    }),
    ephemeralCoalesced: new Counter({
      name: 'chat_ephemeral_coalesced_total',
      help: "Ephemeral changes never sent because a later one for the same connection and key replaced them before the connection's flush, by event",
      labelNames: ['event'],
      registers,
    }),
    lostFrames: new Counter({ name: 'chat_lost_frames_total', help: 'Routed frames that never arrived (read from the log instead)', registers }),
    routeOutcomes: new Counter({
      name: 'chat_route_outcomes_total',
      help: 'Messages this process routed, by outcome: routed, held (waiting for a lower seq), stale (routed before), held_full (the hold cap was reached: left to the gateways, which route it from the log)',
      labelNames: ['outcome'],
      registers,
    }),
    resumes: new Counter({ name: 'chat_resumes_total', help: 'Resume attempts by outcome', labelNames: ['outcome'], registers }),
    replayedMessages: new Counter({ name: 'chat_replayed_messages_total', help: 'Messages replayed to resuming connections', registers }),
    passwordHashQueueDepth: new Gauge({ name: 'chat_password_hash_queue_depth', help: 'Password hashes waiting for a slot', registers }),
    passwordHashRefusals: new Counter({
      name: 'chat_password_hash_refusals_total',
      help: 'Password hashes refused because the queue was full',
      registers,
    }),
    dependencyErrors: new Counter({ name: 'chat_dependency_errors_total', help: 'Errors from a dependency', labelNames: ['dependency'], registers }),
    webhookAttempts: new Counter({
      name: 'chat_webhook_attempts_total',
      help: 'Webhook delivery attempts (worker), by outcome: delivered (2xx), failed (another status, a timeout, a connection error), refused (the target is not allowed)',
      labelNames: ['outcome'],
      registers,
    }),
    webhookAttemptDuration: new Histogram({
      name: 'chat_webhook_attempt_duration_seconds',
      help: 'How long a webhook delivery attempt took (worker), redirects included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    webhooksPaused: new Counter({
      name: 'chat_webhooks_paused_total',
      help: 'Webhooks paused after WEBHOOK_MAX_FAILURES failed attempts in a row (worker)',
      registers,
    }),
    pushNotifications: new Counter({
      name: 'chat_push_notifications_total',
      help: 'Web Push sends (worker), by outcome: sent (the push service took it), expired (404/410: the subscription was removed), failed, online (not sent: the user came back)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` from `registry` on its own port (0 picks a free one); nginx never publishes it. */
export function startMetricsServer(registry: Registry, opts: { host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeIdleConnections();
          }),
      });
    });
  });
}
