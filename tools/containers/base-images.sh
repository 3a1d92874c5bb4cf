#!/usr/bin/env bash
# Stand-in base images for deploy/, built from Debian packages and Maven Central jars, because no
# image registry is reachable here. They carry the exact names deploy/ uses, so the Dockerfile
# and compose file stay as a Docker user runs them (podman uses a local image of that name):
#   docker.io/library/python:3.11-slim-bookworm  Debian bookworm + Python 3.11 + venv
#   docker.io/library/cassandra:5.0              + Java 17, Cassandra 5.0 jars, cqlsh, an entrypoint
#                                                that honours the official image's variables
# Idempotent: an image is rebuilt only when its recipe (these files) changed; the Debian root
# file system is kept in $CONTAINERS_CACHE between runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/podman-env.sh"
ROOT="$(cd "$CONTAINERS_DIR/../.." && pwd)"
PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
CASSANDRA_IMAGE=docker.io/library/cassandra:5.0
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
LABEL=fashion-classifier.recipe

recipe() {  # files... -> a short hash of their contents (and of the Debian release and packages)
  { echo "bookworm $PACKAGES"; cat "$@"; } | sha256sum | cut -c1-16
}

is_current() {  # image, recipe
  [ "$(podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null)" = "$2" ]
}

rootfs_tar() {  # -> path of a trimmed Debian bookworm root file system (tar), built once
  local tar="$CONTAINERS_CACHE/bookworm-python.tar" dir="$CONTAINERS_CACHE/rootfs.tmp"
  if [ -s "$tar" ]; then echo "$tar"; return; fi
  say "debootstrap: Debian bookworm with $PACKAGES (about 2 minutes, once)"
  rm -rf "$dir"
  mkdir -p "$CONTAINERS_CACHE"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$dir" "$MIRROR" \
    > "$CONTAINERS_CACHE/debootstrap.log" 2>&1 || die "debootstrap failed: $CONTAINERS_CACHE/debootstrap.log"
  # Slim as the official image: no package downloads, lists, manuals or translations, now or
  # after a later apt-get install in a Dockerfile.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/{doc,man,info,locale}/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' > "$dir/etc/dpkg/dpkg.cfg.d/slim"
  # Downloads here go through a proxy whose authority only the host trusts: give the image the
  # host's bundle (pip reads it from /etc/pip.conf). Stand-in only, never the Dockerfile.
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$dir/etc/pip.conf"
  tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  echo "$tar"
}

python_image() {
  local hash
  hash=$(recipe "$CONTAINERS_DIR/base-images.sh")
  if is_current "$PYTHON_IMAGE" "$hash"; then say "$PYTHON_IMAGE is up to date"; return; fi
  say "building $PYTHON_IMAGE (stand-in from Debian packages)"
  podman import --quiet --change 'CMD ["python3"]' --change "LABEL $LABEL=$hash" \
    --change 'ENV LANG=C.UTF-8' "$(rootfs_tar)" "$PYTHON_IMAGE" >/dev/null
}

cassandra_image() {
  local hash context="$CONTAINERS_CACHE/cassandra-context"
  hash=$(recipe "$CONTAINERS_DIR/base-images.sh" "$CONTAINERS_DIR"/cassandra/* "$ROOT/tools/cassandra/pom.xml")
  if is_current "$CASSANDRA_IMAGE" "$hash"; then say "$CASSANDRA_IMAGE is up to date"; return; fi
  "$ROOT/tools/cassandra/cassandra.sh" fetch
  say "building $CASSANDRA_IMAGE (stand-in: Java 17 + the Maven Central jars + cqlsh)"
  rm -rf "$context" && mkdir -p "$context"
  cp -r "$ROOT/tools/cassandra/lib" "$context/lib"
  cp "$CONTAINERS_DIR"/cassandra/* "$context/"
  podman build --quiet --label "$LABEL=$hash" -t "$CASSANDRA_IMAGE" -f "$context/Containerfile" "$context" >/dev/null
  rm -rf "$context"
}

require_podman
clear_stale_bridges
python_image
cassandra_image
say "base images ready: $PYTHON_IMAGE, $CASSANDRA_IMAGE"
