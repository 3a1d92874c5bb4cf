#!/bin/sh
# Runs in the background beside each Cassandra node (compose and Kubernetes start it next to
# the image's entrypoint): once the node answers CQL on localhost, the default superuser gets
# the password from the environment instead of the well-known "cassandra", and the app gets a
# login role of its own. Safe to run at every start of every node.
#
# Every step is retried until it holds (up to 30 minutes: a node that joins a ring streams its
# data before it opens CQL), because a single failure is normal on a busy node: cqlsh times out
# while the node is still compacting after start-up, and Cassandra 5.0 refuses a second password
# change of a role within 5 s ("can only be changed every 5000ms"). One failure used to end this
# script, leaving no app role and the node unhealthy for good.
#
# Passwords are put into CQL strings: use letters and digits only (e.g. `openssl rand -hex 24`).
set -u
super="${CASSANDRA_SUPERUSER_PASSWORD:?set CASSANDRA_SUPERUSER_PASSWORD}"
user="${CASSANDRA_USERNAME:?set CASSANDRA_USERNAME}"
password="${CASSANDRA_PASSWORD:?set CASSANDRA_PASSWORD}"
pause_s="${CASSANDRA_ROLES_RETRY_SECONDS:-10}"
max_tries="${CASSANDRA_ROLES_MAX_TRIES:-180}"
ping="SELECT release_version FROM system.local"
last_error=""

cql() {  # role, password, statement; on failure, cqlsh's last line (passwords masked) is kept
    if answer=$(cqlsh 127.0.0.1 -u "$1" -p "$2" -e "$3" --connect-timeout 20 --request-timeout 30 2>&1); then
        return 0
    fi
    last_error=$(printf '%s\n' "$answer" | grep -v -e '^$' -e '^Warning' -e '^Recommendation' -e '^WARNING' \
        | tail -n 1 | sed -e "s/$super/***/g" -e "s/$password/***/g")
    return 1
}

superuser_password_set() {
    cql cassandra "$super" "$ping" \
        || cql cassandra cassandra "ALTER ROLE cassandra WITH PASSWORD = '$super'"
}

app_role_ready() {
    cql "$user" "$password" "$ping" && return 0
    cql cassandra "$super" "CREATE ROLE IF NOT EXISTS $user WITH LOGIN = true AND PASSWORD = '$password'" \
        || return 1
    cql "$user" "$password" "$ping" && return 0
    # A role that existed before, with another password or without LOGIN. Right after the CREATE
    # above this ALTER is refused (5 s rule): the next round logs in without it.
    cql cassandra "$super" "ALTER ROLE $user WITH PASSWORD = '$password' AND LOGIN = true" \
        && cql "$user" "$password" "$ping"
}

auth_replicated() {
    cql cassandra "$super" "ALTER KEYSPACE system_auth WITH replication = $CASSANDRA_AUTH_REPLICATION"
}

until_done() {  # what, function: call it until it succeeds, every $pause_s s, $max_tries times
    tries=1
    until "$2"; do
        if [ "$tries" -ge "$max_tries" ]; then
            echo "cassandra-roles: gave up on $1 after $tries tries; last answer: ${last_error:-none}" >&2
            return 1
        fi
        tries=$((tries + 1))
        sleep "$pause_s"
    done
}

until_done "the superuser password (the node's is neither this one nor the default?)" superuser_password_set \
    || exit 1
until_done "role $user" app_role_ready \
    || { echo "cassandra-roles: could not create role $user" >&2; exit 1; }
echo "cassandra-roles: role $user ready; the default superuser password is changed"
# Roles live in system_auth (one replica by default): on a cluster, as many as the data has, or
# one node down would lock every client out.
if [ -n "${CASSANDRA_AUTH_REPLICATION:-}" ]; then
    until_done "system_auth replication" auth_replicated || exit 1
    echo "cassandra-roles: system_auth replication is $CASSANDRA_AUTH_REPLICATION"
fi
