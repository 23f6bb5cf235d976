#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (Apache-2.0) from its Go module, once: the S3-compatible
# server the blob store's S3 tests start on free ports of their own
# (shared/src/testing/seaweedfs.ts). Prints the binary's path. Later runs find it in
# the cache outside the clone and build nothing (the first build takes minutes).
#
# The module is fetched through the Go module proxy and checked against the checksum
# database; it is built inside its own source tree, so its own go.mod (with its
# replace directive) and go.sum pin every dependency.
#
# Env:
#   SEAWEEDFS_CACHE_DIR  module cache, build cache, sources and binary
#                        (default: ${XDG_CACHE_HOME:-$HOME/.cache}/chat-seaweedfs)
#   GO                   go binary (default: `go` on PATH, then /usr/local/go/bin/go)
set -euo pipefail

version=v0.0.0-20261109003541-7506e5f91cd6
cache="${SEAWEEDFS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chat-seaweedfs}"
bin="$cache/$version/weed"
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
# One build at a time (test files may ask at once); the others wait, then find it built.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

# shellcheck source=scripts/ci/find-go.sh
source "$(dirname "${BASH_SOURCE[0]}")/find-go.sh"

export GOMODCACHE="$cache/mod" GOCACHE="$cache/build" GOPATH="$cache/gopath" GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
echo "seaweedfs: building weed $version with $("$go_bin" version) (once; caches in $cache)" >&2
module_dir="$("$go_bin" mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "$module_dir" || ! -d "$module_dir" ]]; then
  echo "seaweedfs: the module did not download" >&2
  exit 1
fi
# The module cache is read-only; the build runs in a writable copy.
src="$cache/src-$version"
rm -rf "$src" "$src.tmp"
cp -r "$module_dir" "$src.tmp"
chmod -R u+w "$src.tmp"
mv "$src.tmp" "$src"
mkdir -p "$(dirname "$bin")"
"$go_bin" -C "$src" build -trimpath -o "$bin.tmp" ./weed
mv "$bin.tmp" "$bin"
rm -rf "$src"
echo "$bin"
