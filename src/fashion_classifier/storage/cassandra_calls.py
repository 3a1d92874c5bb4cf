"""Running statements against a deadline per store operation, retrying while time is left.

Every statement of the store is idempotent, so trying one again (or sending it to a second
coordinator, as the driver's speculative execution does) can never write anything twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import NoHostAvailable, Session
from cassandra.connection import ConnectionException

from fashion_classifier.storage.cassandra_session import OPERATION_DEADLINE_S

UNAVAILABLE = (NoHostAvailable, OperationTimedOut, RequestExecutionException, ConnectionException, OSError)
# Pause before trying a failed statement again: a coordinator that fails fast (a replica just
# died, gossip has not said so yet) is usually followed by one that succeeds.
RETRY_PAUSE_S = 0.05
# A logged batch first writes its batchlog to two other nodes, which with three nodes means both:
# one slow node holds up every batch, whichever coordinator is asked. That happens when a node has
# just died and gossip has not said so yet (~15 s), and when it is back in gossip but still
# starting and taking hints (in docs/failover.md: 30 s before it even accepted clients). A batch
# not done after BATCHLOG_WAIT_S is therefore written again as separate statements, all at once,
# which need no batchlog: QUORUM of the live replicas is enough for each. Far above a healthy
# batch (p99 well under 100 ms).
BATCHLOG_WAIT_S = 0.5
# After a batch was that slow, uploads go straight to separate statements rather than each paying
# BATCHLOG_WAIT_S again; this often, one of them also sends its batch aside, not waited for, and
# batches come back once one is quick again. (Waiting for a trial batch instead, every 5 s, was
# what the last failures of docs/failover.md had in common.)
TRY_BATCH_EVERY_S = 2.0
# A read not answered after this long is sent again as a fresh request while the first keeps
# running, and at once (after RETRY_PAUSE_S) when one fails; the first answer wins. A fresh request
# gets a new query plan from the hosts as the driver sees them now: the driver's own speculative
# executions stay inside the plan made when the read began, and a connection reset on its first
# host (a node killed mid-request) ends the whole request once that plan is spent.
# Each request has up to three coordinators of its own (speculative execution), so one fresh
# request at most while the first is only slow: more would multiply the work of a cluster that is
# slow because it is overloaded.
FRESH_READ_AFTER_S = 0.75
READS_IN_FLIGHT = 2  # at most this many requests of one read at a time
log = logging.getLogger(__name__)


class DeadlineExceeded(Exception):
    """The current store operation ran out of time (OPERATION_DEADLINE_S)."""


class Calls:
    """Executes statements on the session `connect` returns, within the current operation's deadline."""

    def __init__(self, connect: Callable[[], Session]) -> None:
        self._connect = connect
        self._local = threading.local()  # per thread: when the current operation must end
        self._batches_slow = False
        self._next_trial = 0.0

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One store operation; a nested one shares the outer one's deadline."""
        outermost = getattr(self._local, "at", None) is None
        if outermost:
            self._local.at = time.monotonic() + OPERATION_DEADLINE_S
        try:
            yield
        finally:
            if outermost:
                self._local.at = None

    @contextmanager
    def not_counted(self) -> Iterator[None]:
        """Time spent inside is given back to the deadline: a worker's first connection and its
        statement preparations, once per session, each bounded on its own (connect timeout,
        PREPARE_TIMEOUT_S a node). Counted, they made the first uploads on a cluster just started
        answer 503 (tests/cluster/test_concurrent_start.py)."""
        started = time.monotonic()
        try:
            yield
        finally:
            if getattr(self._local, "at", None) is not None:
                self._local.at += time.monotonic() - started

    def left(self, within: float | None = None) -> float:
        """Seconds left for the current operation (or `within`, if sooner)."""
        at = getattr(self._local, "at", None) or time.monotonic() + OPERATION_DEADLINE_S
        return min(at - time.monotonic(), OPERATION_DEADLINE_S if within is None else within)

    def execute(
        self, statement: Any, values: tuple[Any, ...] | None = None, *, within: float | None = None
    ) -> Any:
        """Execute, trying again while time is left; DeadlineExceeded when none is."""
        end = time.monotonic() + self.left(within)
        last: BaseException | None = None
        while (left := end - time.monotonic()) > 0:
            try:
                return self._connect().execute(statement, values, timeout=left)
            except NoHostAvailable as exc:
                if last is not None:
                    raise  # still nothing answers: say so now
                last = exc
            except UNAVAILABLE as exc:
                last = exc
            log.debug("trying again after %r", last)
            time.sleep(min(RETRY_PAUSE_S, max(0.0, end - time.monotonic())))
        raise DeadlineExceeded() from last  # the last failure says which node and why

    def read(self, statement: Any, values: tuple[Any, ...] | None = None) -> Any:
        """An idempotent read's rows; sent again beside the first while that one is slow or after it fails."""
        started = send_at = time.monotonic()
        end = started + self.left()
        answers: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
        in_flight: list[Any] = []
        sent = 0
        last: BaseException | None = None
        while (left := end - time.monotonic()) > 0:
            if time.monotonic() >= send_at:
                if len(in_flight) < READS_IN_FLIGHT:
                    in_flight.append(self._send_read(statement, values, left, answers))
                    sent += 1
                send_at = time.monotonic() + FRESH_READ_AFTER_S
            try:
                future, error = answers.get(timeout=max(0.0, min(send_at, end) - time.monotonic()))
            except queue.Empty:
                continue
            if future not in in_flight:
                continue  # a request answered twice (two of its speculative executions): taken already
            in_flight.remove(future)
            if error is None:
                if sent > 1:  # rare: worth a line in the log, to see the store's bad moments
                    log.info(
                        "a read answered after %.2f s, %d requests sent (this one via %s; last failure %r)",
                        time.monotonic() - started,
                        sent,
                        ", ".join(str(host) for host in future.attempted_hosts),
                        last,
                    )
                return future.result()
            if not isinstance(error, UNAVAILABLE):
                raise error
            last = error
            if isinstance(error, NoHostAvailable) and not in_flight and not self._any_host_up():
                raise error  # nothing is up: say so now
            log.debug("reading again after %r", error)
            send_at = min(send_at, time.monotonic() + RETRY_PAUSE_S)
        if in_flight:  # unanswered: name the coordinators they wait for
            asked = {str(host) for future in in_flight for host in future.attempted_hosts}
            last = OperationTimedOut(f"no answer from {', '.join(sorted(asked))}; earlier: {last!r}")
        raise DeadlineExceeded() from last

    def _send_read(self, statement: Any, values: Any, timeout: float, answers: queue.SimpleQueue[Any]) -> Any:
        future = self._connect().execute_async(statement, values, timeout=timeout)
        future.add_callbacks(lambda _: answers.put((future, None)), lambda exc: answers.put((future, exc)))
        return future

    def _any_host_up(self) -> bool:
        return any(host.is_up for host in self._connect().cluster.metadata.all_hosts())

    def execute_each(self, pieces: list[tuple[Any, tuple[Any, ...]]]) -> None:
        """Every statement on its own, all sent at once; one that fails is tried again in the deadline."""
        session, left = self._connect(), self.left()
        if left <= 0:
            raise DeadlineExceeded()
        sent = [
            (statement, values, session.execute_async(statement, values, timeout=left))
            for statement, values in pieces
        ]
        for statement, values, future in sent:
            try:
                future.result()
            except UNAVAILABLE:
                self.execute(statement, values)

    def write_together(self, batch: Any, pieces: list[tuple[Any, tuple[Any, ...]]]) -> None:
        """The logged `batch` of `pieces` (all rows or none); while batches are slow, each piece alone (all must land)."""
        if not self._batches_slow:
            try:
                self.execute(batch, within=BATCHLOG_WAIT_S)
                return
            except DeadlineExceeded:
                self._batches_slow = True
                log.info("a slow logged batch: rows written alone until a batch is quick again")
        elif time.monotonic() >= self._next_trial:
            self._next_trial = time.monotonic() + TRY_BATCH_EVERY_S
            self._try_batch_aside(batch)
        self.execute_each(pieces)

    def _try_batch_aside(self, batch: Any) -> None:
        """Send `batch` (the same rows) without waiting; back to batches if it is done in time."""
        sent = time.monotonic()

        def done(_: Any) -> None:
            if time.monotonic() - sent < BATCHLOG_WAIT_S:
                self._batches_slow = False

        self._connect().execute_async(batch, timeout=BATCHLOG_WAIT_S).add_callbacks(done, lambda _: None)
