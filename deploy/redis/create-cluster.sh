#!/bin/sh
# The one-shot `redis-cluster-create` service of docker-compose.redis-cluster.yml:
# joins the nodes of REDIS_CLUSTER_NODES (host:port,...) into one Redis Cluster
# with REDIS_CLUSTER_REPLICAS replicas per master, as the `admin` user of
# deploy/redis/cluster-users.acl, and exits 0 once every node serves every slot.
# Nodes that already form a cluster (a restart of the stack whose nodes kept
# their /data/nodes.conf) are left as they are.
set -eu

: "${REDIS_ADMIN_PASSWORD:?set REDIS_ADMIN_PASSWORD}"
: "${REDIS_CLUSTER_NODES:?set REDIS_CLUSTER_NODES}"
replicas="${REDIS_CLUSTER_REPLICAS:-1}"
# redis-cli reads the password from here, so it is not on any command line.
export REDISCLI_AUTH="$REDIS_ADMIN_PASSWORD"
unset REDIS_ADMIN_PASSWORD

nodes=$(echo "$REDIS_CLUSTER_NODES" | tr ',' ' ')
cli() { node="$1"; shift; redis-cli --no-auth-warning --user admin -h "${node%:*}" -p "${node##*:}" "$@"; }
state() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'; }
known() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_known_nodes://p'; }

first="${nodes%% *}"
if [ "$(state "$first")" = ok ]; then
  echo "the nodes already form a cluster; nothing to do"
  exit 0
fi

# CLUSTER MEET takes addresses, not names: resolve each compose service name.
addresses=""
for node in $nodes; do
  if [ "$(known "$node")" != 1 ]; then
    echo "$node already knows other nodes but the cluster is not ok; recreate the nodes (docker compose down) and start again" >&2
    exit 1
  fi
  ip=$(getent hosts "${node%:*}" | awk '{ print $1; exit }')
  if [ -z "$ip" ]; then
    echo "cannot resolve ${node%:*}" >&2
    exit 1
  fi
  addresses="$addresses $ip:${node##*:}"
done

# shellcheck disable=SC2086 # one argument per node
redis-cli --no-auth-warning --user admin --cluster create $addresses --cluster-replicas "$replicas" --cluster-yes

# Done when every node agrees: the app's clients may start right after.
for node in $nodes; do
  tries=0
  until [ "$(state "$node")" = ok ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 60 ]; then
      echo "$node: cluster_state is not ok after 60 s" >&2
      exit 1
    fi
    sleep 1
  done
done
echo "cluster ready: $REDIS_CLUSTER_NODES"
