#!/usr/bin/env bash
# A real Apache Cassandra 5.0 node (or three) from Maven Central jars: no Docker needed.
#
#   cassandra.sh fetch          download the jars into lib/ (once; Maven caches them in ~/.m2)
#   cassandra.sh start [1|3]    start 1 node (127.0.0.1) or 3 nodes (127.0.0.1-3); returns when ready
#   cassandra.sh stop           stop every node this script started
#   cassandra.sh kill K         SIGKILL node K (failover tests)
#   cassandra.sh start-node K   start node K of the existing cluster again and wait for it
#   cassandra.sh pause K        SIGSTOP node K: its connections stay open, nothing answers
#   cassandra.sh resume K       SIGCONT node K
#   cassandra.sh status         which nodes run
#   cassandra.sh wipe           stop and delete all node data
#   cassandra.sh nodetool K ARGS...        nodetool against node K (JMX on 127.0.0.1)
#   cassandra.sh snapshot KEYSPACE [TAG]   nodetool snapshot of the keyspace on every running node
#   cassandra.sh restore KEYSPACE TAG DIR  load snapshot TAG of the node folder DIR (or a copy of
#                                          its data/ tree) into node 1, whose schema is migrated
#
# Environment: PYTHON (with cassandra-driver, for the readiness query), CASSANDRA_HEAP,
# CASSANDRA_START_TIMEOUT (seconds, default 180), CASSANDRA_NODE_OFFSET (default 0: nodes on
# 127.0.0.1-3; 10: on 127.0.0.11-13, JMX ports and run/ folder of their own, so a cluster can
# run beside another node of this script).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$HERE/lib"
OFFSET="${CASSANDRA_NODE_OFFSET:-0}"
[[ "$OFFSET" =~ ^[0-9]+$ ]] && [ "$OFFSET" -le 250 ] || { echo "[cassandra] CASSANDRA_NODE_OFFSET=$OFFSET: use 0-250" >&2; exit 2; }
RUN="$HERE/run"
[ "$OFFSET" -eq 0 ] || RUN="$HERE/run-offset$OFFSET"
PYTHON="${PYTHON:-python3}"
TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CLUSTER="fashion-classifier-local"
# Balanced single tokens for three nodes (as ccm computes them).
TOKENS3=(-9223372036854775808 -3074457345618258603 3074457345618258602)

say() { echo "[cassandra] $*" >&2; }
die() { say "$*"; exit 1; }

fetch() {
  if compgen -G "$LIB/cassandra-all-*.jar" >/dev/null; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Cassandra: apt-get install maven"
  say "fetching Cassandra jars from Maven Central into $LIB"
  (cd "$HERE" && mvn -q -B package) || die "mvn package failed; see the output above"
  rm -rf "$HERE/target"
}

node_dir() { echo "$RUN/node$1"; }
address() { echo "127.0.0.$((OFFSET + $1))"; }
jmx_port() { echo $((7000 + 100 * $1 + OFFSET)); }
pid_of() { cat "$(node_dir "$1")/pid" 2>/dev/null || true; }
# A pid file outlives its process (a reboot, a killed script): only a live Cassandra whose
# command line names this node's folder counts, so stop/kill never signal someone else's process
# (another checkout's node, or the shared node of another CASSANDRA_NODE_OFFSET).
is_running() {
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dcassandra.storagedir=$(node_dir "$1") "
}
node_count() { cat "$RUN/nodes" 2>/dev/null || echo 0; }

render_config() {  # node, nodes
  local k=$1 n=$2 dir token seeds=""
  dir=$(node_dir "$k")
  token=0
  [ "$n" -eq 3 ] && token=${TOKENS3[$((k - 1))]}
  for i in $(seq 1 "$n"); do seeds+="$(address "$i"):7000,"; done
  mkdir -p "$dir"/{conf,data,commitlog,hints,saved_caches,cdc_raw,logs,tmp}
  sed -e "s|@CLUSTER@|$CLUSTER|" -e "s|@TOKEN@|$token|" -e "s|@SEEDS@|${seeds%,}|" \
      -e "s|@ADDRESS@|$(address "$k")|g" -e "s|@DIR@|$dir|g" \
      "$HERE/conf/cassandra.yaml.template" > "$dir/conf/cassandra.yaml"
  cp "$HERE/conf/logback.xml" "$dir/conf/logback.xml"
}

module_flags() {
  local flags=()
  # Java 17 module access that Cassandra 5.0 needs (its conf/jvm17-server.options).
  for m in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi \
           java.management/com.sun.jmx.remote.security java.rmi/sun.rmi.registry java.rmi/sun.rmi.server \
           java.sql/java.sql java.base/java.lang.ref jdk.unsupported/sun.misc jdk.attach/sun.tools.attach \
           jdk.compiler/com.sun.tools.javac.file; do
    flags+=(--add-exports "$m=ALL-UNNAMED")
  done
  for m in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
           java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
           java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal java.base/sun.nio.ch \
           java.base/java.io java.base/java.lang.reflect java.base/java.lang java.base/java.util \
           java.base/java.nio jdk.compiler/com.sun.tools.javac; do
    flags+=(--add-opens "$m=ALL-UNNAMED")
  done
  printf '%s\n' "${flags[@]}"
}

jvm_flags() {  # node, nodes
  local k=$1 n=$2 dir heap jamm
  dir=$(node_dir "$k")
  heap=${CASSANDRA_HEAP:-$([ "$n" -eq 3 ] && echo 768m || echo 1536m)}
  jamm=$(compgen -G "$LIB/jamm-*.jar" | head -n 1)
  local flags=(
    "-Xms$heap" "-Xmx$heap" -XX:+UseG1GC -XX:+HeapDumpOnOutOfMemoryError "-XX:HeapDumpPath=$dir" -Xss512k
    "-javaagent:$jamm"  # without the jamm agent the JVM can die measuring memtables
    -Djdk.attach.allowAttachSelf=true -Dio.netty.tryReflectionSetAccessible=true
    -Djava.net.preferIPv4Stack=true -Dchronicle.analytics.disable=true
    "-Dcassandra.config=file://$dir/conf/cassandra.yaml" "-Dcassandra.storagedir=$dir"
    "-Dcassandra.logdir=$dir/logs" "-Dlogback.configurationFile=$dir/conf/logback.xml"
    -Dcassandra-foreground=yes "-Dcassandra.jmx.local.port=$(jmx_port "$k")" "-Djna.tmpdir=$dir/tmp"
    "-Djava.io.tmpdir=$dir/tmp"
  )
  # A single node need not wait for gossip to settle (saves ~8 s); a cluster must.
  [ "$n" -eq 1 ] && flags+=(-Dcassandra.skip_wait_for_gossip_to_settle=0)
  mapfile -t -O "${#flags[@]}" flags < <(module_flags)
  printf '%s\n' "${flags[@]}"
}

launch() {  # node, nodes
  local k=$1 n=$2 dir
  dir=$(node_dir "$k")
  render_config "$k" "$n"
  mapfile -t flags < <(jvm_flags "$k" "$n")
  # setsid + nohup: the node outlives the shell (and make) that started it.
  setsid nohup java "${flags[@]}" -cp "$dir/conf:$LIB/*" org.apache.cassandra.service.CassandraDaemon \
    > "$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  say "node $k starting on $(address "$k"):9042 (pid $!, logs in $dir/logs)"
}

cql_check() {  # node, expected peers -> 0 when the node answers CQL and sees its peers
  "$PYTHON" - "$(address "$1")" "$2" <<'EOF' 2>/dev/null
import sys
from cassandra.cluster import Cluster
host, peers = sys.argv[1], int(sys.argv[2])
cluster = Cluster([host], protocol_version=5, connect_timeout=5)
try:
    session = cluster.connect()
    session.execute("SELECT release_version FROM system.local").one()
    seen = len(list(session.execute("SELECT peer FROM system.peers_v2")))
    sys.exit(0 if seen >= peers else 3)
finally:
    cluster.shutdown()
EOF
}

wait_ready() {  # node, nodes
  local k=$1 n=$2 started=$SECONDS has_driver=1
  "$PYTHON" -c "import cassandra.cluster" 2>/dev/null || has_driver=0
  [ $has_driver -eq 1 ] || say "no cassandra-driver for $PYTHON: checking the CQL port only"
  while (( SECONDS - started < TIMEOUT )); do
    if ! is_running "$k"; then
      say "node $k died while starting; last lines of its log:"
      tail -n 40 "$(node_dir "$k")/logs/system.log" "$(node_dir "$k")/logs/stdout.log" >&2 || true
      exit 1
    fi
    if port_open "$k"; then
      if [ $has_driver -eq 0 ] || cql_check "$k" $((n - 1)); then
        say "node $k ready after $((SECONDS - started)) s"
        return
      fi
    fi
    sleep 1
  done
  die "node $k not ready within $TIMEOUT s; see $(node_dir "$k")/logs/system.log"
}

port_open() { (exec 3<>"/dev/tcp/$(address "$1")/9042") 2>/dev/null; }

start() {
  local n=${1:-1}
  [ "$n" -eq 1 ] || [ "$n" -eq 3 ] || die "start takes 1 or 3 nodes, not $n"
  if [ "$n" -eq 1 ] && ! is_running 1 && port_open 1; then
    # Someone else's Cassandra (Docker, another checkout) already serves this address: use it.
    say "a Cassandra node not started by this script answers on $(address 1):9042; using it"
    return
  fi
  fetch
  if [ "$(node_count)" != "$n" ]; then
    stop
    rm -rf "$RUN"  # data of a differently shaped cluster would not start
  fi
  mkdir -p "$RUN"
  echo "$n" > "$RUN/nodes"
  for k in $(seq 1 "$n"); do
    if is_running "$k"; then say "node $k already running (pid $(pid_of "$k"))"; else launch "$k" "$n"; fi
    # One after another: simultaneous first starts of a cluster are flaky.
    wait_ready "$k" 1
  done
  if [ "$n" -eq 3 ]; then for k in 1 2 3; do wait_ready "$k" 3; done; fi
}

start_node() {
  local k=$1 n
  n=$(node_count)
  [ "$k" -ge 1 ] && [ "$k" -le "$n" ] || die "no node $k in a cluster of $n"
  is_running "$k" || launch "$k" "$n"
  wait_ready "$k" "$n"
}

stop_node() {  # node, signal
  local k=$1 pid
  pid=$(pid_of "$k")
  [ -n "$pid" ] || return 0
  if is_running "$k"; then
    kill -CONT "$pid" 2>/dev/null || true  # a paused node could not act on SIGTERM
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then say "node $k ignored SIGTERM; killing it"; kill -KILL "$pid"; fi
    say "node $k stopped"
  fi
  rm -f "$(node_dir "$k")/pid"
}

stop() { for k in 1 2 3; do stop_node "$k" TERM; done; }

status() {
  local any=1
  for k in 1 2 3; do
    if is_running "$k"; then echo "node $k running on $(address "$k"):9042 (pid $(pid_of "$k"))"; any=0; fi
  done
  [ $any -eq 0 ] || echo "no node running"
  return $any
}

nodetool() {  # node, nodetool arguments...
  local k=$1 dir; shift
  is_running "$k" || die "node $k is not running (cassandra.sh status)"
  dir=$(node_dir "$k")
  mapfile -t flags < <(module_flags)
  java -Xmx256m "${flags[@]}" "-Dcassandra.logdir=$dir/logs" \
    -cp "$dir/conf:$LIB/*" org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(jmx_port "$k")" "$@"
}

snapshot() {  # keyspace, tag: a hard-linked, consistent copy of every table's SSTables on each node
  local ks=$1 tag=${2:-$(date -u +%Y%m%dT%H%M%SZ)} k any=1
  for k in 1 2 3; do
    is_running "$k" || continue
    nodetool "$k" snapshot -t "$tag" -- "$ks" >&2  # flushes the memtables first
    say "node $k: snapshot $tag of $ks in $(node_dir "$k")/data/$ks/*/snapshots/$tag"
    any=0
  done
  [ $any -eq 0 ] || die "no node running to snapshot"
  echo "$tag"
}

restore() {  # keyspace, tag, node folder (or a copy of its data/ tree): into node 1, already migrated
  local ks=$1 tag=$2 from=$3 found=0 table_dir table staging
  [ -d "$from/data/$ks" ] || from="${from%/data}"
  [ -d "$from/data/$ks" ] || die "no keyspace $ks under $from/data: give the node folder or its data/ copy"
  for table_dir in "$from/data/$ks"/*/snapshots/"$tag"; do
    [ -d "$table_dir" ] || continue
    table=$(basename "$(dirname "$(dirname "$table_dir")")"); table=${table%-*}
    # nodetool import moves the files it loads: stage a copy, the snapshot stays as it was. It
    # reads keyspace and table from the folder names (<keyspace>/<table>), and skips files otherwise.
    staging="$(node_dir 1)/tmp/restore-$tag/$ks/$table"
    rm -rf "$staging"; mkdir -p "$staging"; cp -p "$table_dir"/* "$staging"/
    rm -f "$staging/manifest.json" "$staging/schema.cql"
    nodetool 1 import -- "$ks" "$table" "$staging" >&2
    # It moves what it loaded and leaves what it refused, saying so only in the node's log.
    [ -z "$(ls -A "$staging" | grep -- '-Data.db$' || true)" ] \
      || die "nodetool import left $ks.$table's SSTables in $staging; see $(node_dir 1)/logs/system.log"
    say "restored $ks.$table from snapshot $tag"
    found=1
  done
  rm -rf "$(node_dir 1)/tmp/restore-$tag"
  [ $found -eq 1 ] || die "no snapshot $tag of $ks under $from/data/$ks/*/snapshots"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-1}" ;;
  stop) stop ;;
  kill) stop_node "${2:?node number}" KILL ;;
  start-node) start_node "${2:?node number}" ;;
  status) status ;;
  wipe) stop; rm -rf "$RUN" ;;
  pause) is_running "${2:?node number}" && kill -STOP "$(pid_of "$2")" ;;
  resume) is_running "${2:?node number}" && kill -CONT "$(pid_of "$2")" ;;
  nodetool) shift; nodetool "${1:?node number}" "${@:2}" ;;
  snapshot) snapshot "${2:?keyspace}" "${3:-}" ;;
  restore) restore "${2:?keyspace}" "${3:?snapshot tag}" "${4:?node folder with the snapshot}" ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
