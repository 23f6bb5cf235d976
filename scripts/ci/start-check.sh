#!/usr/bin/env bash
# The README's `npm start`, as a new user runs it: whatever Node is first on PATH
# (the machine's own, 20 here), the cluster must come up behind nginx on :8080,
# serve the web page, keep /metrics private, serve the API description, and stop
# cleanly on Ctrl-C. (/health/live and /health/ready are for orchestrators on each
# replica; nginx publishes only /health.)
# Uses a database and a Redis prefix of its own, and removes both.
set -euo pipefail
cd "$(dirname "$0")/../.."

db="chat_start_check_$$"
prefix="start-check-$$:"
log="$(mktemp)"
base=http://127.0.0.1:8080

cleanup() {
  psql -h 127.0.0.1 -U postgres -qAt -c "drop database if exists $db with (force)" postgres >/dev/null 2>&1 || true
  redis-cli --scan --pattern "${prefix}*" | xargs -r redis-cli del >/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

echo "start-check: node on PATH is $(node --version)"
# Its own session, so the stop below reaches npm and the runner alike, as Ctrl-C
# in a terminal does (npm does not pass a SIGTERM sent to it alone on to its child).
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" REDIS_PREFIX="$prefix" setsid npm start >"$log" 2>&1 &
pid=$!
stop() { kill -INT -- "-$pid" 2>/dev/null || true; }

ready=""
for _ in $(seq 1 90); do
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health")" = 200 ]; then ready=yes; break; fi
  sleep 1
done
if [ -z "$ready" ]; then
  echo "start-check: the cluster did not become ready; its output:"
  cat "$log"
  stop
  wait "$pid" || true
  exit 1
fi

status() { curl -s -o /dev/null -w '%{http_code}' "$base$1"; }
fail=""
check() {
  local got; got="$(status "$1")"
  echo "start-check: GET $1 -> $got (want $2)"
  [ "$got" = "$2" ] || fail=yes
}
check /health 200
check / 200
check /app.js 200
check /api/openapi.json 200
check /metrics 404
check /health/ready 404
grep -m1 'npm scripts\|ready: http' "$log" | sed 's/^/start-check: /' || true

stop
code=0
wait "$pid" || code=$?
echo "start-check: npm start exited with $code after Ctrl-C (SIGINT to its process group)"
grep -q 'cluster .*| stopped' "$log" || { echo "start-check: no clean stop in the output:"; tail -20 "$log"; fail=yes; }
[ -z "$fail" ]
