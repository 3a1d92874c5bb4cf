# Sourced by the container scripts: podman with the project's settings, or a clear way to get it.
# shellcheck shell=bash

CONTAINERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The project's own podman settings (runc, ulimits, netavark), not /etc/containers: the
# machine stays as it was.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$CONTAINERS_DIR/containers.conf}"
# Docker's image format: podman's default (OCI) has no HEALTHCHECK and drops the Dockerfile's.
export BUILDAH_FORMAT=docker
# Debian packages: podman and what it needs here (runc: crun fails with hybrid cgroups;
# netavark + aardvark-dns: name resolution on user-defined networks; iptables: netavark runs it
# for every network and published port, but Debian's podman only suggests it), debootstrap for
# the stand-in base images, maven to fetch the Cassandra jars.
CONTAINER_PACKAGES=(podman runc netavark aardvark-dns iptables catatonit debootstrap maven)

# Slow things built once per machine and reused: the Debian root file system, wheels.
if [ "$(id -u)" -eq 0 ]; then
  CONTAINERS_CACHE="${CONTAINERS_CACHE:-/var/cache/fashion-classifier/containers}"
else
  CONTAINERS_CACHE="${CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fashion-classifier/containers}"
fi

say() { echo "[containers] $*" >&2; }
die() { say "$*"; exit 1; }

missing_container_packages() {  # -> the CONTAINER_PACKAGES not installed, one a line
  local pkg
  for pkg in "${CONTAINER_PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

# netavark fails deep inside the first build ("netavark: No such file or directory") when a
# program it runs is missing: check them before, and name the package in one line.
check_network_tools() {
  local tool
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null \
      || die "netavark needs $tool, which is missing: apt-get install -y iptables"
  done
  [ -x /usr/lib/podman/netavark ] || die "podman's network backend is missing: apt-get install -y netavark"
}

require_podman() {
  local missing=()
  mapfile -t missing < <(missing_container_packages)
  if [ ${#missing[@]} -eq 0 ]; then check_network_tools; return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    say "Running the containers needs these Debian packages: ${missing[*]}"
    say "Install them with:  sudo apt-get install -y ${missing[*]}"
    say "(checked here as root only; rootless podman also wants uidmap and slirp4netns)"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || say "apt-get update failed; trying the install with the cached package lists"
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
  check_network_tools
}

# A bridge left behind by an earlier podman (a CNI-era cni-podman0, a network removed while its
# containers died) keeps its subnet's route: a new network on the same subnet then sends its
# answers into the dead bridge, and containers get no DNS and no outside connection ("Temporary
# failure in name resolution" in every build's apt-get). Found on this machine, 2026-11-25.
clear_stale_bridges() {
  local owned link
  owned=" $(podman network ls --format '{{.NetworkInterface}}' 2>/dev/null | tr '\n' ' ') "
  for link in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep -E '^(cni-)?podman[0-9]*$'); do
    case "$owned" in *" $link "*) continue ;; esac
    if [ -n "$(ls "/sys/class/net/$link/brif" 2>/dev/null)" ]; then
      continue  # containers are attached: in use, whoever made it
    fi
    if [ "$(id -u)" -eq 0 ]; then
      say "removing bridge $link: no podman network owns it, and its route breaks container networking"
      ip link delete "$link"
    else
      say "bridge $link belongs to no podman network and breaks container networking: sudo ip link delete $link"
    fi
  done
}
