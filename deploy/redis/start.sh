#!/bin/sh
# Entry point of the compose `redis` service, and of the `redis-node-N` services
# of docker-compose.redis-cluster.yml (REDIS_CLUSTER=yes): writes the ACL file
# from deploy/redis/users.acl and REDIS_PASSWORD (in cluster mode also
# deploy/redis/cluster-users.acl and REDIS_ADMIN_PASSWORD), then hands over to
# the image's own entrypoint, which drops from root to the redis user before
# starting the server.
set -eu

# Every password also goes into URLs (REDIS_URL: redis://chat:<password>@redis:6379),
# so it is held to URL-safe characters, and to a length that makes guessing useless.
check_password() {
  case "$2" in
    *[!A-Za-z0-9._~-]*) echo "$1: use only A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 32)" >&2; exit 1 ;;
  esac
  if [ "${#2}" -lt 32 ]; then
    echo "$1: use at least 32 characters" >&2
    exit 1
  fi
}

: "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
check_password REDIS_PASSWORD "$REDIS_PASSWORD"

# Comments and blank lines dropped; `>password` appended to every user that is `on`.
with_password() {
  awk -v password="$2" '
    /^[[:space:]]*(#|$)/ { next }
    / on / { print $0 " >" password; next }
    { print }
  ' "$1"
}

umask 077
mkdir -p /run/redis
with_password /etc/redis/users.acl "$REDIS_PASSWORD" > /run/redis/users.acl

# Redis Cluster node: the cluster settings go into a configuration file, which
# redis-server reads first, so that the admin password (replicas authenticate to
# their master with it) is not on the command line either.
set --
if [ "${REDIS_CLUSTER:-no}" = yes ]; then
  : "${REDIS_ADMIN_PASSWORD:?set REDIS_ADMIN_PASSWORD}"
  : "${REDIS_ANNOUNCE_HOSTNAME:?set REDIS_ANNOUNCE_HOSTNAME to the name the other containers reach this node by}"
  check_password REDIS_ADMIN_PASSWORD "$REDIS_ADMIN_PASSWORD"
  if [ "$REDIS_ADMIN_PASSWORD" = "$REDIS_PASSWORD" ]; then
    echo "REDIS_ADMIN_PASSWORD: must differ from REDIS_PASSWORD, which the app knows" >&2
    exit 1
  fi
  with_password /etc/redis/cluster-users.acl "$REDIS_ADMIN_PASSWORD" >> /run/redis/users.acl
  # The node's identity and slot map (not data) in /data, the image's volume, so a
  # restarted or recreated container rejoins as the same node. Clients are told
  # hostnames, not container addresses, which change when a container is recreated.
  cat > /run/redis/cluster.conf <<EOF
cluster-enabled yes
cluster-config-file /data/nodes.conf
cluster-node-timeout 5000
cluster-announce-hostname $REDIS_ANNOUNCE_HOSTNAME
cluster-preferred-endpoint-type hostname
masteruser admin
masterauth $REDIS_ADMIN_PASSWORD
EOF
  set -- /run/redis/cluster.conf
fi
chown -R redis:redis /run/redis
unset REDIS_PASSWORD REDIS_ADMIN_PASSWORD

# No persistence: events and presence rebuild themselves after a restart
# (docs/architecture.md#decisions). noeviction: a full Redis refuses writes
# rather than silently dropping revoked token ids.
exec docker-entrypoint.sh redis-server "$@" \
  --save "" --appendonly no \
  --maxmemory 200mb --maxmemory-policy noeviction \
  --aclfile /run/redis/users.acl
