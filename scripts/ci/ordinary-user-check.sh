#!/usr/bin/env bash
# The README's commands as an ordinary user, in a fresh clone in that user's own
# `mktemp -d` (mode 0700, as a home directory is): `npm ci`, `npm start`
# (start-check.sh) and the end-to-end tests that load the web page through nginx.
# .ci/run runs everything else as root in a 0700 clone of its own; between the two,
# the page is proved not to depend on what nginx's worker processes may read
# (a root nginx runs them as an unprivileged user, a non-root one as itself).
#
# Run as root, from a clone: it creates the user when missing (CI_USER, default
# `chatci`) and gives it the checked-out commit as a git bundle in a file it can
# read, since it cannot read a clone inside a 0700 folder of root's. As an
# ordinary user there is nothing to add (.ci/run itself is that run), so it skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
  echo "ordinary-user-check: already an ordinary user ($(id -un)); .ci/run itself is the check"
  exit 0
fi

user="${CI_USER:-chatci}"
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
  echo "ordinary-user-check: created user $user"
fi
home="$(getent passwd "$user" | cut -d: -f6)"

commit="$(git rev-parse --short=12 HEAD)"
bundle="$(mktemp /tmp/chat-ci-XXXXXX.bundle)"
trap 'rm -f "$bundle"' EXIT
git bundle create --quiet "$bundle" HEAD
chmod 0644 "$bundle"
# Out of this clone, which the user may not be able to enter.
cd /

# The user's own environment where root's would be wrong for it (HOME, npm's cache
# and config, TMPDIR); the rest (PATH, CA certificates) as CI has it. npm's cache is
# the user's ~/.npm, kept between runs, so a repeated run downloads little.
runuser -u "$user" -- env -u TMPDIR -u XDG_CACHE_HOME -u XDG_CONFIG_HOME -u npm_config_cache -u npm_config_userconfig \
  HOME="$home" USER="$user" LOGNAME="$user" npm_config_update_notifier=false \
  bash -s "$bundle" "$commit" <<'AS_USER'
set -euo pipefail
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
echo "ordinary-user-check: $(id -un) clones $2 into $dir (mode $(stat -c %a "$dir"))"
git -c advice.detachedHead=false clone --quiet "$1" "$dir/chat"
cd "$dir/chat"
npm ci --no-audit --no-fund --prefer-offline
bash scripts/ci/start-check.sh
npm exec -- vitest run --project e2e e2e/cluster.test.ts e2e/browser.test.ts
AS_USER
