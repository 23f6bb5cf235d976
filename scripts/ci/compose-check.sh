#!/usr/bin/env bash
# Loads docker-compose.yml (and the Redis Cluster override) with the Compose
# Specification's own loader, compose-go, exactly as the documentation tells users
# to run them: deploy/compose-check parses every `export` and `docker compose ... up`
# of the repository's Markdown files and loads each command with only the variables
# exported before it (dummy values). Fails on any error: a variable the compose files
# require that the docs do not export, a schema or merge error, a bad reference.
# No Docker engine needed: only Go and the Go module proxy.
#
# Usage: scripts/ci/compose-check.sh [FILE.md...]   (default: every Markdown file git tracks)
#
# Env:
#   COMPOSE_CHECK_CACHE_DIR  module cache, build cache and binary, outside the clone
#                            (default: ${XDG_CACHE_HOME:-$HOME/.cache}/chat-compose-check)
#   GO                       go binary (default: `go` on PATH, then /usr/local/go/bin/go)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${COMPOSE_CHECK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chat-compose-check}"

# shellcheck source=scripts/ci/find-go.sh
source "$(dirname "${BASH_SOURCE[0]}")/find-go.sh"

# The committed go.mod and go.sum are the whole dependency list (-mod=readonly: a
# missing or changed checksum fails instead of being written); this machine's Go
# builds it (no toolchain download).
export GOMODCACHE="$cache/mod" GOCACHE="$cache/build" GOPATH="$cache/gopath" GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
mkdir -p "$cache/bin"
echo "compose-check: $("$go_bin" version), caches in $cache"
"$go_bin" -C "$repo_root/deploy/compose-check" build -trimpath -o "$cache/bin/compose-check" .

cd "$repo_root"
if [[ $# -gt 0 ]]; then
  docs=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t docs < <(git ls-files -- '*.md')
else
  mapfile -t docs < <(find . -name node_modules -prune -o -name '*.md' -print | sed 's|^\./||' | sort)
fi
"$cache/bin/compose-check" -C "$repo_root" "${docs[@]}"
