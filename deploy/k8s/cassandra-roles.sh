#!/bin/sh
# Runs in the background beside each Cassandra node (compose and Kubernetes start it next to
# the image's entrypoint): once the node answers CQL on localhost, the default superuser gets
# the password from the environment instead of the well-known "cassandra", and the app gets a
# login role of its own. Safe to run at every start of every node.
#
# Passwords are put into CQL strings: use letters and digits only (e.g. `openssl rand -hex 24`).
set -u
super="${CASSANDRA_SUPERUSER_PASSWORD:?set CASSANDRA_SUPERUSER_PASSWORD}"
user="${CASSANDRA_USERNAME:?set CASSANDRA_USERNAME}"
password="${CASSANDRA_PASSWORD:?set CASSANDRA_PASSWORD}"

cql() {
    cqlsh 127.0.0.1 -u cassandra -p "$1" -e "$2" >/dev/null 2>&1
}

# Up to 30 minutes: a node that joins a ring streams its data before it opens CQL.
tries=0
until cql "$super" "SELECT release_version FROM system.local" \
    || cql cassandra "ALTER ROLE cassandra WITH PASSWORD = '$super'"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 180 ]; then
        echo "cassandra-roles: CQL did not answer on 127.0.0.1:9042; roles not set" >&2
        exit 1
    fi
    sleep 10
done
app_login() {
    cqlsh 127.0.0.1 -u "$user" -p "$password" -e "SELECT release_version FROM system.local" >/dev/null 2>&1
}

# Cassandra 5.0 refuses a second password change of a role within 5 s, so no ALTER right after
# the CREATE: only a role that already existed, with another password or without LOGIN.
if ! { cql "$super" "CREATE ROLE IF NOT EXISTS $user WITH LOGIN = true AND PASSWORD = '$password'" \
    && { app_login || cql "$super" "ALTER ROLE $user WITH PASSWORD = '$password' AND LOGIN = true"; }; }; then
    echo "cassandra-roles: could not create role $user" >&2
    exit 1
fi
echo "cassandra-roles: role $user ready; the default superuser password is changed"
# Roles live in system_auth (one replica by default): on a cluster, as many as the data has, or
# one node down would lock every client out.
if [ -n "${CASSANDRA_AUTH_REPLICATION:-}" ]; then
    cql "$super" "ALTER KEYSPACE system_auth WITH replication = $CASSANDRA_AUTH_REPLICATION" \
        || echo "cassandra-roles: system_auth replication not changed" >&2
fi
