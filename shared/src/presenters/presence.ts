/** `GET /api/ws/users`: the seed's shape for who is connected anywhere in the cluster. */
export const presentConnectedUsers = (usernames: string[], now = new Date()) => ({
  connected_users: usernames,
  count: usernames.length,
  timestamp: now.toISOString(),
});
