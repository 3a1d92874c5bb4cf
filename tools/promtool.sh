#!/usr/bin/env bash
# Prints the path of a promtool (Prometheus's rule checker), first getting one if there is none:
#   1. $PROMTOOL, or promtool on PATH;
#   2. tools/.bin/promtool, left by an earlier run (git ignores tools/.bin);
#   3. Debian's `prometheus` package: `apt-get download` (no root needed, 19 MB, seconds) and
#      promtool alone taken out of it. The package is not installed: that would also start a
#      Prometheus server as a system service and pull in its web assets;
#   4. Go: `go install` of the same command's module into tools/.bin (slow: 1.8 GB of modules
#      downloaded, 13 min of CPU; 46 min on a busy 2-core machine, 2026-12-05).
# Otherwise it says what to install, on stderr, and exits 1.
#   tools/promtool.sh             the path, on stdout
#   tools/promtool.sh ARGS...     runs promtool with ARGS
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/tools/.bin"
GO_MODULE="github.com/prometheus/prometheus/cmd/promtool@v0.316.0"

from_debian() {
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || return 1
  local work status=0
  work="$(mktemp -d)"
  chmod 755 "$work"  # apt's download user (_apt) writes there
  debian_promtool "$work" || status=$?
  rm -rf "$work"
  return $status
}

debian_promtool() {
  local work="$1"
  if ! (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] || return 1
    apt-get update -qq >/dev/null 2>&1 || true  # a fresh machine may have no package lists yet
    (cd "$work" && apt-get download -qq prometheus >/dev/null) || return 1
  fi
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  mkdir -p "$BIN"
  mv "$work/usr/bin/promtool" "$BIN/promtool.$$"
  mv "$BIN/promtool.$$" "$BIN/promtool"  # atomic: a concurrent run never sees half a file
}

from_go() {
  local go
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || return 1
  echo "building promtool with Go ($GO_MODULE): this takes many minutes" >&2
  mkdir -p "$BIN"
  GOBIN="$BIN" "$go" install "$GO_MODULE" >&2
}

find_promtool() {
  if [ -n "${PROMTOOL:-}" ]; then
    echo "$PROMTOOL"
  elif command -v promtool >/dev/null 2>&1; then
    command -v promtool
  elif [ -x "$BIN/promtool" ] || from_debian || from_go; then
    echo "$BIN/promtool"
  else
    cat >&2 <<EOF
No promtool, and neither Debian's package lists nor Go could provide one. Any of these will do:
  sudo apt-get update && tools/promtool.sh            (takes promtool out of Debian's prometheus package)
  sudo apt-get install -y prometheus                   (installs it, with a Prometheus server)
  go install $GO_MODULE   (Go 1.26.7+; then put ~/go/bin on PATH)
  PROMTOOL=/path/to/promtool                           (one you already have)
EOF
    return 1
  fi
}

promtool="$(find_promtool)"
if [ $# -eq 0 ]; then
  echo "$promtool"
else
  exec "$promtool" "$@"
fi
