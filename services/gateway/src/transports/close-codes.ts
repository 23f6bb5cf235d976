/** WebSocket close codes the plain endpoint uses; 4000-4999 are ours by RFC 6455. */
export const CloseCode = {
  /** Server shutting down: clients should reconnect, through the load balancer, elsewhere. */
  GOING_AWAY: 1001,
  /** A frame over the transport's hard limit (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** A dependency (PostgreSQL) failed while resuming: reconnect with the same cursor shortly. */
  TRY_AGAIN_LATER: 1013,
  TOKEN_REVOKED: 4001,
  TOKEN_EXPIRED: 4002,
  /** The `since` cursor was refused (an error frame says why): reconnect without it and reload history. */
  INVALID_CURSOR: 4003,
} as const;
