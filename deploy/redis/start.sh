#!/bin/sh
# Entry point of the compose `redis` service: writes the ACL file from
# deploy/redis/users.acl and REDIS_PASSWORD, then hands over to the image's own
# entrypoint, which drops from root to the redis user before starting the server.
set -eu

: "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
# The password also goes into every REDIS_URL (redis://chat:<password>@redis:6379),
# so it is held to URL-safe characters, and to a length that makes guessing useless.
case "$REDIS_PASSWORD" in
  *[!A-Za-z0-9._~-]*) echo "REDIS_PASSWORD: use only A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 32)" >&2; exit 1 ;;
esac
if [ "${#REDIS_PASSWORD}" -lt 32 ]; then
  echo "REDIS_PASSWORD: use at least 32 characters" >&2
  exit 1
fi

umask 077
mkdir -p /run/redis
awk -v password="$REDIS_PASSWORD" '
  /^[[:space:]]*(#|$)/ { next }
  / on / { print $0 " >" password; next }
  { print }
' /etc/redis/users.acl > /run/redis/users.acl
chown -R redis:redis /run/redis
unset REDIS_PASSWORD

# No persistence: events and presence rebuild themselves after a restart
# (docs/architecture.md#decisions). noeviction: a full Redis refuses writes
# rather than silently dropping revoked token ids.
exec docker-entrypoint.sh redis-server \
  --save "" --appendonly no \
  --maxmemory 200mb --maxmemory-policy noeviction \
  --aclfile /run/redis/users.acl
