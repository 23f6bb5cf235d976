# Sourced by the scripts that build Go modules: sets go_bin to $GO, else `go` on
# PATH, else /usr/local/go/bin/go; exits with a message when there is none.
go_bin="${GO:-}"
if [[ -z "$go_bin" ]]; then
  if command -v go >/dev/null 2>&1; then
    go_bin="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
  else
    echo "$(basename "$0"): no Go toolchain (install Go, or set GO)" >&2
    exit 1
  fi
fi
