#!/usr/bin/env bash
# deploy/compose.yaml with podman where there is no Docker:
#   tools/containers/compose.sh up -d      # app + Cassandra, http://127.0.0.1:8987
#   tools/containers/compose.sh down       # keeps the data; `down -v` deletes it
# Without deploy/.env (and no passwords in the environment), it first writes one from
# deploy/example.env with new random passwords, readable by its owner only.
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

random_password() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

ensure_env_file() {
  local env_file="$ROOT/deploy/.env"
  [ ! -e "$env_file" ] && [ -z "${CASSANDRA_PASSWORD:-}" ] || return 0
  (
    umask 077
    sed -e "s/^# Copy to deploy\/.env.*/# Written by tools\/containers\/compose.sh from deploy\/example.env, with random passwords./" \
      -e "s/^CASSANDRA_SUPERUSER_PASSWORD=.*/CASSANDRA_SUPERUSER_PASSWORD=$(random_password)/" \
      -e "s/^CASSANDRA_PASSWORD=.*/CASSANDRA_PASSWORD=$(random_password)/" \
      "$ROOT/deploy/example.env" > "$env_file"
  )
  say "wrote deploy/.env with new random Cassandra passwords (keep it: the data volume needs them)"
}

command -v podman >/dev/null || die "podman is missing: make container-images installs it (as root)"
ensure_env_file
exec "$(compose_tool)" --podman-path "$CONTAINERS_DIR/podman-healthy-wait" -f "$ROOT/deploy/compose.yaml" "$@"
