#!/usr/bin/env bash
# Ensure a k6 binary exists and print its absolute path on stdout (only the path,
# so callers can do `K6=$(scripts/install-k6.sh)`); progress goes to stderr.
#
# Lookup order:
#   1. $K6_BIN, if set and executable
#   2. the project cache:   <repo>/.cache/bin/k6   (.cache/ is git-ignored), if it
#      is the pinned version
#   3. `k6` on PATH (any version; loadtest/smoke.js needs k6 >= 1.0 for k6/websockets)
# Otherwise k6 is built from source with `go install`, which needs only the Go
# toolchain and the Go module proxy (no GitHub release downloads, no Docker).
# The first build takes a few minutes; later runs are instant.
#
# Env:
#   K6_VERSION  module version to build (default below; pinned so runs are
#               reproducible and loadtest/smoke.js is known to work with it)
#   K6_BIN      explicit k6 path to use (skips everything else if executable)
#   GO          go binary (default: `go` on PATH, then /usr/local/go/bin/go)
#   K6_CACHE_DIR  where the built binary is kept (default: <repo>/.cache/bin)
set -euo pipefail

K6_VERSION="${K6_VERSION:-v1.8.1}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# K6_CACHE_DIR lets CI keep the build outside a fresh clone.
cache_bin="${K6_CACHE_DIR:-$repo_root/.cache/bin}"

if [[ -n "${K6_BIN:-}" && -x "${K6_BIN}" ]]; then
  echo "$K6_BIN"
  exit 0
fi
# The cached build is ours, so it must be the pinned version; a stale one (after
# K6_VERSION was bumped) is rebuilt below.
if [[ -x "$cache_bin/k6" ]] && "$cache_bin/k6" version 2>/dev/null | grep -q "k6 $K6_VERSION "; then
  echo "$cache_bin/k6"
  exit 0
fi
if command -v k6 >/dev/null 2>&1; then
  command -v k6
  exit 0
fi

go_bin="${GO:-}"
if [[ -z "$go_bin" ]]; then
  if command -v go >/dev/null 2>&1; then
    go_bin="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
  else
    echo "install-k6: k6 not found and no Go toolchain to build it (set K6_BIN or install Go)" >&2
    exit 1
  fi
fi

mkdir -p "$cache_bin"
echo "install-k6: building go.k6.io/k6@$K6_VERSION into $cache_bin (this takes a few minutes the first time)" >&2
# CGO off: a static binary that does not depend on the host's libc.
# -trimpath keeps build paths out of the binary.
GOBIN="$cache_bin" CGO_ENABLED=0 "$go_bin" install -trimpath "go.k6.io/k6@$K6_VERSION" >&2

if [[ ! -x "$cache_bin/k6" ]]; then
  echo "install-k6: go install finished but $cache_bin/k6 is missing" >&2
  exit 1
fi
"$cache_bin/k6" version >&2
echo "$cache_bin/k6"
