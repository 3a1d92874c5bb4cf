"""A store operation's deadline bounds its requests, not the process's one-time setup.

Found by tests/cluster/test_concurrent_start.py on a quiet machine: two servers started at once
answered their first uploads 503, because each worker's first connection to three nodes and its
first statement preparations used up the 1.5 s an upload may take. Connecting and preparing are
bounded on their own (connect timeout, PREPARE_TIMEOUT_S per node).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fashion_classifier.storage import cassandra_calls
from fashion_classifier.storage.cassandra_calls import Calls, DeadlineExceeded
from fashion_classifier.storage.cassandra_connection import CassandraConnection

DEADLINE_S = 0.2


class InstantSession:
    """Answers every statement at once."""

    def execute(self, statement: Any, values: Any = None, timeout: float | None = None) -> str:
        assert timeout is not None and timeout > 0
        return "answer"


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cassandra_calls, "OPERATION_DEADLINE_S", DEADLINE_S)


def test_a_slow_first_connection_does_not_spend_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    store = CassandraConnection(["127.0.0.1"], 9042, "ks", consistency="ONE", replication="SimpleStrategy:1")

    def open_session() -> InstantSession:
        time.sleep(1.5 * DEADLINE_S)  # the first connection of a worker, to a cold cluster
        return InstantSession()

    monkeypatch.setattr(store, "_open_session", open_session)
    with store._guard("saving predictions"):  # an upload: several statements after connecting
        assert [store._calls.execute("SELECT"), store._calls.execute("INSERT")] == ["answer", "answer"]


def test_preparing_does_not_spend_the_deadline() -> None:
    calls = Calls(InstantSession)
    with calls.operation():
        with calls.not_counted():
            time.sleep(1.5 * DEADLINE_S)  # preparing a statement on first use
        assert calls.execute("SELECT") == "answer"


def test_time_spent_elsewhere_in_the_operation_still_counts() -> None:
    calls = Calls(InstantSession)
    with calls.operation():
        time.sleep(1.5 * DEADLINE_S)
        with pytest.raises(DeadlineExceeded):
            calls.execute("SELECT")
