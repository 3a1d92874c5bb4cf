"""Cassandra schema: the applied version, migrations, and waiting for the nodes to agree.

A schema change reaches the other nodes by gossip a moment after the coordinator answers; a
node that has not heard of a table yet refuses statements that use it. So after every DDL
statement the migrator waits until all live nodes report the same schema version, and only then
records the migration: a serving worker that reads version N knows every node has schema N.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from cassandra import InvalidRequest
from cassandra.cluster import Session

from fashion_classifier.storage.base import StoreUnavailable
from fashion_classifier.storage.migrations import Migration, pending

log = logging.getLogger(__name__)
AGREEMENT_WAIT_S = 180.0  # nodes busy starting or compacting can take minutes
# Schema statements are slow (each one is flushed and spread to every node): not held to the
# serving deadline of cassandra_session.
DDL_TIMEOUT_S = 60.0
MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS {ks}.schema_migrations (
    version int PRIMARY KEY, name text, applied_at timestamp)"""


def applied_version(session: Session, keyspace: str) -> int:
    """From schema_migrations; a keyspace made before migrations existed holds the baseline (1).

    While a migrator upgrades such a keyspace, schema_migrations exists a moment before it holds
    a row (and a node may list it before it serves it): that is still the baseline, not 0.
    """
    rows = session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,), timeout=10
    )
    tables = {row.table_name for row in rows}
    baseline = 1 if "records" in tables else 0
    if "schema_migrations" not in tables:
        return baseline
    try:
        versions = session.execute(f"SELECT version FROM {keyspace}.schema_migrations", timeout=10)
    except InvalidRequest:  # "table schema_migrations does not exist" on a node that lags the DDL
        return baseline
    return max((row.version for row in versions), default=baseline)


def migrate(session: Session, keyspace: str, replication: str, *, target: int | None = None) -> list[str]:
    """Create the keyspace if missing, then apply each pending migration and record it."""
    run_ddl(session, f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}")
    done = []
    for migration in pending(applied_version(session, keyspace), target):
        apply(session, keyspace, migration)
        done.append(f"{migration.version} {migration.name}")
    return done


def apply(session: Session, keyspace: str, migration: Migration) -> None:
    """Every statement, agreed on by all nodes, then the version row (the statements are re-runnable)."""
    run_ddl(session, MIGRATIONS_TABLE.format(ks=keyspace))
    for statement in migration.cql:
        run_ddl(session, statement.format(ks=keyspace))
    session.execute(
        f"INSERT INTO {keyspace}.schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
        (migration.version, migration.name, datetime.now(UTC)),
        timeout=DDL_TIMEOUT_S,
    )
    log.info("schema migration %d (%s) applied to %s", migration.version, migration.name, keyspace)


def run_ddl(session: Session, statement: str) -> None:
    result = session.execute(statement, timeout=DDL_TIMEOUT_S)
    if (
        not result.response_future.is_schema_agreed
    ):  # the driver's own wait (max_schema_agreement_wait) ran out
        wait_for_agreement(session)


def wait_for_agreement(session: Session, seconds: float = AGREEMENT_WAIT_S) -> None:
    """Block until every live node reports the same schema version; StoreUnavailable after `seconds`."""
    deadline = time.monotonic() + seconds
    control: Any = session.cluster.control_connection
    while time.monotonic() < deadline:
        if control.wait_for_schema_agreement(wait_time=min(10.0, deadline - time.monotonic())):
            return
    raise StoreUnavailable(
        f"the Cassandra nodes did not agree on the schema within {seconds:.0f} s; "
        "check that every node is up (nodetool describecluster), then run `fashion-classifier migrate` again"
    )


def prepare(session: Session, query: str, *, attempts: int = 5) -> Any:
    """Prepare, waiting for schema agreement when the coordinator has not caught up yet."""
    for attempt in range(1, attempts):
        try:
            return session.prepare(query)
        except InvalidRequest as exc:
            # Our statements are fixed texts: "unconfigured table" and "undefined column" here
            # mean the node lags behind the schema, not that the query is wrong.
            log.warning("preparing on a node behind the schema (attempt %d): %s", attempt, exc)
            session.cluster.control_connection.wait_for_schema_agreement(wait_time=2.0)
            time.sleep(0.2 * attempt)
    try:
        return session.prepare(query)
    except InvalidRequest as exc:
        raise StoreUnavailable(
            f"a Cassandra node does not know the schema yet ({exc}); retry in a few seconds"
        ) from exc
