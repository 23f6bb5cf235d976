// Custom metrics shared by the k6 scripts. k6 merges same-named metrics of every
// VU (each VU evaluates this module once), and a metric nobody adds to stays out
// of the summary.

import { Counter, Rate, Trend } from 'k6/metrics';

/** Messages the cluster stored (REST 201, a socket ack with ok), tagged `kind` (and `stage` in ramp). */
export const messagesSent = new Counter('chat_messages_sent');
/** This run's messages seen by plain WebSocket clients (smoke). */
export const wsReceived = new Counter('chat_ws_messages_received');
/** The same for Socket.IO clients (smoke). */
export const sioReceived = new Counter('chat_sio_messages_received');
/** This run's messages seen by receivers of either kind, each id once per receiver; tagged `kind` (ws / socket.io). */
export const messagesReceived = new Counter('chat_messages_received');
/**
 * Send-to-receive time, ms, tagged `kind` (ws / socket.io): from the send time the
 * sender embedded in the content, else from `created_at`.
 */
export const deliveryLatency = new Trend('chat_delivery_latency', true);
/** REST request duration or socket send-to-ack time, tagged `kind` (rest / ws / socket.io). */
export const sendLatency = new Trend('chat_send_latency', true);
/** A send that was refused, failed or not acknowledged in time, tagged `kind`. */
export const sendErrors = new Rate('chat_send_errors');
/** Sequence numbers a receiver lacks below the highest it got from a stream (see messages.js). */
export const messagesLost = new Counter('chat_messages_lost');
/** A message id a receiver got twice. */
export const messagesDuplicated = new Counter('chat_messages_duplicated');
/** A socket that reached its connected state (ws `connection` frame, Socket.IO `40`) in time, tagged `kind`. */
export const connectSuccess = new Rate('chat_connect_success');
/** From opening the socket to its connected state, tagged `kind`. */
export const connectTime = new Trend('chat_connect_time', true);
/** A socket sender's tick that found its previous message still unacknowledged (so it sent nothing). */
export const sendsSkipped = new Counter('chat_socket_sends_skipped');
