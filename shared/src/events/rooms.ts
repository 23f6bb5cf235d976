/** The one place room names are built; publisher and gateways both use it. */
export const rooms = {
  global: 'global',
  user: (userId: string) => `user:${userId}`,
  room: (roomId: string) => `room:${roomId}`,
} as const;
