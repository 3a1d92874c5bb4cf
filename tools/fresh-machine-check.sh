#!/usr/bin/env bash
# What this machine lacks for `.ci/run`, and which of the project's scripts would install it.
# Changes nothing: run it on a clean Debian 12 to see what a first `.ci/run` will fetch.
#   tools/fresh-machine-check.sh        exit 0 when everything the scripts cannot install is here
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

blocking=0
line() { printf '  %-26s %s\n' "$1" "$2"; }
need() {  # what, check command, hint: a tool the scripts expect and do not install
  if eval "$2" >/dev/null 2>&1; then line "$1" "ok ($(eval "$2" 2>&1 | head -n 1))"
  else line "$1" "MISSING: $3"; blocking=1; fi
}
packages() {  # title, installer, packages...
  local title=$1 installer=$2; shift 2
  if [ $# -eq 0 ]; then line "$title" "all installed"
  else line "$title" "missing, $installer installs them: $*"; fi
}

echo "Tools the scripts expect (not installed by them):"
need "python3 >= 3.11 + venv" "python3 -c 'import sys, venv; assert sys.version_info >= (3, 11); print(sys.version.split()[0])'" "install Python 3.11+ with its venv module"
need "make" "make --version" "apt-get install make"
need "git" "git --version" "apt-get install git"
need "Java 17+" "java -version 2>&1 | head -n 1 | grep -E '\"(1[7-9]|2[0-9])'" "apt-get install openjdk-17-jre-headless"
need "Node.js (for npm ci)" "node --version" "apt-get install nodejs npm"
need "Go (make bench only)" "go version" "install Go 1.22+ (vegeta and promtool are built with go install)"

echo "Debian packages, installed when run as root:"
mapfile -t test_missing < <(tools/system-deps.sh --list)
packages "make test" "tools/system-deps.sh" "${test_missing[@]}"
# shellcheck source=containers/podman-env.sh
source tools/containers/podman-env.sh
mapfile -t container_missing < <(missing_container_packages)
packages "make test-containers" "tools/containers/podman-env.sh" "${container_missing[@]}"

echo "Downloads the scripts make on first use:"
if [ -x .venv/bin/python ]; then line "PyPI (.venv)" "present"
else line "PyPI (.venv)" "missing, make install-dev installs .[train,dev] from pyproject.toml"; fi
if [ -d tests/e2e/node_modules/axe-core ]; then line "npm (tests/e2e)" "present"
else line "npm (tests/e2e)" "missing, make test runs npm ci: $(python3 -c 'import json; d = json.load(open("tests/e2e/package.json"))["devDependencies"]; print(", ".join(f"{k} {v}" for k, v in d.items()))')"; fi
if compgen -G "tools/cassandra/lib/cassandra-all-*.jar" >/dev/null; then line "Maven (Cassandra jars)" "present"
else line "Maven (Cassandra jars)" "missing, tools/cassandra/cassandra.sh fetch downloads cassandra-all $(grep -o 'cassandra-all</artifactId><version>[^<]*' tools/cassandra/pom.xml | sed 's/.*<version>//')"; fi
if [ -x bench/.tools/vegeta ]; then line "Go (vegeta)" "present"
else line "Go (vegeta)" "missing, make bench builds $(grep -o 'VEGETA_VERSION = "[^"]*"' bench/open_loop.py | cut -d'"' -f2) with go install"; fi
if command -v podman >/dev/null && podman image exists docker.io/library/cassandra:5.0 2>/dev/null; then
  line "stand-in base images" "present"
else line "stand-in base images" "missing, make container-images builds them (debootstrap + Maven jars)"; fi

if [ $blocking -ne 0 ]; then
  echo "Some tools above are missing and no script installs them: install them first."
  exit 1
fi
echo "Nothing blocks .ci/run: the scripts install everything else listed above."
