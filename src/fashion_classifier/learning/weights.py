"""How much each correction may weigh in a learning run: no client and no burst above its share.

Anyone who reaches the page can send corrections, so one client (or many addresses at once)
could send thousands of wrong ones. Each correction starts at weight 1; a client whose
corrections add up to more than `client_share` of all the corrections' weight has each of them
scaled down until it holds that share, and so has a burst: the corrections of one
`burst_window`, from whoever sent them. With few clients (or windows) the share cannot hold
(two clients cannot both have 5%): then none may weigh more than twice an equal share, and with
one or two of them nothing is cut. Weights are only ever lowered, never raised.

A correction made before the log existed (or whose log write failed) has no sender: all of them
together count as one client, "unknown", and one burst. As a client each, they would escape every
cap and, being many, loosen the cap of everyone else; as one, they weigh like one user among the
others, and a store whose corrections all predate the log learns as before (one client: no cap).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fashion_classifier.storage.base import LoggedCorrection

UNKNOWN = "unknown"
ROUNDS = 20  # client and burst caps applied in turn until neither cuts more (a few rounds in practice)


@dataclass(frozen=True, kw_only=True)
class CapOptions:
    client_share: float = 0.05
    burst_share: float = 0.10
    burst_window: timedelta = timedelta(minutes=10)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_share": self.client_share,
            "burst_share": self.burst_share,
            "burst_window_minutes": self.burst_window.total_seconds() / 60,
        }


@dataclass(frozen=True)
class Sender:
    """Who sent one correction (a keyed hash, or "unknown") and the burst window it falls in."""

    client: str
    window: str


@dataclass
class Capping:
    """Each correction's weight (1 = uncapped), and what was cut."""

    factors: np.ndarray
    clients: int = 0
    bursts: int = 0
    unlogged: int = 0
    capped_clients: list[dict[str, Any]] = field(default_factory=list)
    capped_bursts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "corrections": len(self.factors),
            "weight": round(float(self.factors.sum()), 2),
            "clients": self.clients,
            "bursts": self.bursts,
            "unlogged": self.unlogged,
            "capped_clients": self.capped_clients,
            "capped_bursts": self.capped_bursts,
        }

    def per_upload(self, corrected: Sequence[bool]) -> np.ndarray:
        """Weights of uploads in this order: an uncorrected one 1, a correction what its cap left it."""
        weights = np.ones(len(corrected))
        weights[np.asarray(corrected, dtype=bool)] = self.factors
        return weights

    def lines(self) -> list[str]:
        """What to print: one line in all, one per client or burst that was cut."""
        head = (
            f"{len(self.factors)} corrections from {self.clients} clients in {self.bursts} bursts "
            f"({self.unlogged} unlogged, counted as one client) weigh as {self.factors.sum():.1f}"
        )
        cut = [
            f"capped client {c['client']}: {c['corrections']} corrections weigh as {c['weighs']}"
            for c in self.capped_clients
        ]
        cut += [
            f"capped burst from {b['from']}: {b['corrections']} corrections weigh as {b['weighs']}"
            for b in self.capped_bursts
        ]
        return [head, *cut]


def weigh_corrections(
    read_log: Callable[[Sequence[uuid.UUID]], Iterable[LoggedCorrection]],
    record_ids: Sequence[uuid.UUID | None],
    options: CapOptions,
) -> Capping:
    """The capped weight of each of these corrections (record ids of the corrected uploads)."""
    log = read_log([record_id for record_id in record_ids if record_id is not None])
    return cap(senders(record_ids, log, options.burst_window), options)


def senders(
    record_ids: Sequence[uuid.UUID | None], log: Iterable[LoggedCorrection], window: timedelta
) -> list[Sender]:
    """The sender of each record's standing correction: its latest log entry, or unknown."""
    latest: dict[uuid.UUID, LoggedCorrection] = {}
    for entry in log:
        if entry.record_id not in latest or entry.at >= latest[entry.record_id].at:
            latest[entry.record_id] = entry
    found = []
    for record_id in record_ids:
        sent = latest.get(record_id) if record_id is not None else None
        if sent is None:
            found.append(Sender(UNKNOWN, UNKNOWN))
        else:
            found.append(Sender(sent.client, _window_start(sent.at, window).isoformat(timespec="minutes")))
    return found


def cap(found: Sequence[Sender], options: CapOptions) -> Capping:
    """Lower the weights until no client holds more than its share, nor any burst."""
    factors = np.ones(len(found))
    clients = np.array([s.client for s in found], dtype=object)
    windows = np.array([s.window for s in found], dtype=object)
    for _ in range(ROUNDS):
        before = factors.copy()
        factors *= _limit(clients, factors, options.client_share)
        factors *= _limit(windows, factors, options.burst_share)
        if np.allclose(before, factors, rtol=0, atol=1e-9):
            break
    return Capping(
        factors,
        clients=len(set(clients)),
        bursts=len(set(windows)),
        unlogged=sum(s.client == UNKNOWN for s in found),
        capped_clients=[{"client": g[:12], **c} for g, c in _cut(clients, factors).items()],
        capped_bursts=[{"from": g, **c} for g, c in _cut(windows, factors).items()],
    )


def _limit(groups: np.ndarray, weights: np.ndarray, share: float) -> np.ndarray:
    """Per example, the factor (at most 1) that brings its group to at most `share` of the total."""
    totals: dict[str, float] = defaultdict(float)
    for group, weight in zip(groups, weights, strict=True):
        totals[group] += weight
    level = water_level(list(totals.values()), share)
    return np.array([min(1.0, level / totals[g]) if totals[g] > 0 else 1.0 for g in groups])


def water_level(totals: list[float], share: float) -> float:
    """The weight L that groups above it are cut to so that each holds at most `share` of the new total.

    Cutting the k largest to L leaves a total of k*L + rest, and L = share * (k*L + rest); k grows
    until the next group is below L. With n groups the share is at least 2/n (see the module).
    """
    n = len(totals)
    if n < 3:
        return math.inf
    share = max(share, 2 / n)
    ordered = sorted(totals, reverse=True)
    rest = sum(ordered)
    if ordered[0] <= share * rest:
        return math.inf
    for k, top in enumerate(ordered, start=1):
        rest -= top
        room = 1 - share * k
        if room <= 0:
            return top
        level = share * rest / room
        if k == n or level >= ordered[k]:
            return level
    return math.inf  # not reached: k == n returns


def _cut(groups: np.ndarray, factors: np.ndarray) -> dict[str, dict[str, Any]]:
    """The groups whose corrections were cut: how many, and what they weigh now."""
    counts: dict[str, int] = defaultdict(int)
    weighs: dict[str, float] = defaultdict(float)
    for group, factor in zip(groups, factors, strict=True):
        counts[group] += 1
        weighs[group] += factor
    cut = {
        g: {"corrections": counts[g], "weighs": round(weighs[g], 2)}
        for g in counts
        if weighs[g] < counts[g] - 1e-6
    }
    return dict(sorted(cut.items(), key=lambda item: -item[1]["corrections"]))


def _window_start(at: datetime, window: timedelta) -> datetime:
    seconds = window.total_seconds()
    return datetime.fromtimestamp(at.timestamp() // seconds * seconds, UTC)
