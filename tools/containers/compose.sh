#!/usr/bin/env bash
# deploy/compose.yaml with podman where there is no Docker:
#   tools/containers/compose.sh up -d      # app + Cassandra, http://127.0.0.1:8987
#   tools/containers/compose.sh down       # keeps the data; `down -v` deletes it
# podman-compose (PyPI; `make install-dev` puts it in .venv) through podman-healthy-wait, so
# `depends_on: condition: service_healthy` holds with Debian's podman 4.3 too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/podman-env.sh"
ROOT="$(cd "$CONTAINERS_DIR/../.." && pwd)"

compose_tool() {
  local candidate
  for candidate in "${PODMAN_COMPOSE:-}" "$ROOT/.venv/bin/podman-compose" "$(command -v podman-compose || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  die "podman-compose is missing: make install-dev (into .venv), or pip install podman-compose"
}

command -v podman >/dev/null || die "podman is missing: make container-images installs it (as root)"
exec "$(compose_tool)" --podman-path "$CONTAINERS_DIR/podman-healthy-wait" -f "$ROOT/deploy/compose.yaml" "$@"
