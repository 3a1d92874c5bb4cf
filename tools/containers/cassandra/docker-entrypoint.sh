#!/bin/bash
# Entrypoint of the Cassandra stand-in: honours the official image's environment variables
# (CASSANDRA_CLUSTER_NAME, _SEEDS, _LISTEN_ADDRESS, _BROADCAST_ADDRESS, _RPC_ADDRESS,
# _BROADCAST_RPC_ADDRESS, _NUM_TOKENS, _ENDPOINT_SNITCH, _DC, _RACK, MAX_HEAP_SIZE, HEAP_NEWSIZE,
# JVM_OPTS) by editing /etc/cassandra/cassandra.yaml, then runs the node as user cassandra.
set -euo pipefail
CONF=/etc/cassandra

set_key() {  # key, value: `key: value`, commented out or not
  sed -ri "s|^(# )?($1:).*|\\2 $2|" "$CONF/cassandra.yaml"
}

own_address() { hostname -i | awk '{print $1}'; }

configure() {
  local listen broadcast
  listen=${CASSANDRA_LISTEN_ADDRESS:-auto}
  [ "$listen" = auto ] && listen=$(own_address)
  broadcast=${CASSANDRA_BROADCAST_ADDRESS:-$listen}
  [ "$broadcast" = auto ] && broadcast=$(own_address)
  set_key listen_address "$listen"
  set_key broadcast_address "$broadcast"
  set_key rpc_address "${CASSANDRA_RPC_ADDRESS:-0.0.0.0}"
  set_key broadcast_rpc_address "${CASSANDRA_BROADCAST_RPC_ADDRESS:-$broadcast}"
  sed -ri "s|(- seeds:).*|\\1 \"${CASSANDRA_SEEDS:-$broadcast}\"|" "$CONF/cassandra.yaml"
  [ -z "${CASSANDRA_CLUSTER_NAME:-}" ] || set_key cluster_name "'$CASSANDRA_CLUSTER_NAME'"
  [ -z "${CASSANDRA_NUM_TOKENS:-}" ] || set_key num_tokens "$CASSANDRA_NUM_TOKENS"
  [ -z "${CASSANDRA_ENDPOINT_SNITCH:-}" ] || set_key endpoint_snitch "$CASSANDRA_ENDPOINT_SNITCH"
  printf 'dc=%s\nrack=%s\n' "${CASSANDRA_DC:-datacenter1}" "${CASSANDRA_RACK:-rack1}" \
    > "$CONF/cassandra-rackdc.properties"
}

jvm_flags() {
  local heap=${MAX_HEAP_SIZE:-1G} jamm
  jamm=$(compgen -G "/opt/cassandra/lib/jamm-*.jar" | head -n 1)
  grep -v '^#' "$CONF/jvm17.options"
  echo "-Xms$heap" "-Xmx$heap"
  [ -z "${HEAP_NEWSIZE:-}" ] || echo "-Xmn$HEAP_NEWSIZE"
  # Without the jamm agent the JVM can die measuring memtables.
  echo "-javaagent:$jamm"
  echo "-Dcassandra.config=file://$CONF/cassandra.yaml" "-Dlogback.configurationFile=$CONF/logback.xml"
  echo "-Dcassandra.storagedir=/var/lib/cassandra" "-Dcassandra.logdir=/var/lib/cassandra/logs"
  echo "-Djava.io.tmpdir=/var/lib/cassandra/tmp" "-Djna.tmpdir=/var/lib/cassandra/tmp"
  echo "${JVM_OPTS:-}"
}

run_node() {
  mkdir -p /var/lib/cassandra/tmp /var/lib/cassandra/logs
  [ "$(id -u)" -ne 0 ] || chown -R cassandra:cassandra /var/lib/cassandra
  local flags
  # One flag per word: none of them contains a space.
  read -ra flags <<< "$(jvm_flags | tr '\n' ' ')"
  local user=()
  [ "$(id -u)" -ne 0 ] || user=(setpriv --reuid=cassandra --regid=cassandra --init-groups)
  exec "${user[@]}" java "${flags[@]}" -cp "$CONF:/opt/cassandra/lib/*" \
    org.apache.cassandra.service.CassandraDaemon
}

if [ "${1:-}" = cassandra ]; then
  configure
  run_node
fi
exec "$@"
