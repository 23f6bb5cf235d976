/** The one place room names are built; publisher and gateways both use it (docs/architecture.md#room-addressing). */
export const rooms = {
  global: 'global',
  user: (userId: string) => `user:${userId}`,
  room: (roomId: string) => `room:${roomId}`,
  /** The connections that asked for this user's presence (`presence_watch`). */
  presence: (userId: string) => `presence:${userId}`,
} as const;
