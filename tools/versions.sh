#!/usr/bin/env bash
# The versions of the tools .ci/run relies on, one a line, so that a failed run shows its cause.
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
show() {  # name, command...: the first line it prints (stdout first: chromium's wrapper writes noise to stderr)
  local name=$1 line; shift
  line=$("$@" 2>/dev/null | head -n 1 || true)
  [ -n "$line" ] || line=$("$@" 2>&1 | head -n 1 || true)
  printf '  %-12s %s\n' "$name" "$(printf '%s' "$line" | sed 's/\x1b\[[0-9;]*m//g')"
}
show_or_missing() {  # name, binary, args...
  local name=$1 binary=$2; shift 2
  if command -v "$binary" >/dev/null 2>&1 || [ -x "$binary" ]; then show "$name" "$binary" "$@"
  else printf '  %-12s %s\n' "$name" "not installed"; fi
}
echo "Tool versions:"
show_or_missing debian cat /etc/debian_version
show_or_missing python3 python3 --version
show_or_missing java java -version
show_or_missing mvn mvn -B --version
show_or_missing node node --version
show_or_missing npm npm --version
show_or_missing go go version
show_or_missing chromium chromium --version
show_or_missing podman podman --version
show_or_missing netavark /usr/lib/podman/netavark --version
show_or_missing iptables iptables --version
show_or_missing runc runc --version
