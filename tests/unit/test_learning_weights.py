"""How much corrections may weigh in learn: no client, no burst above its share (learning/weights.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fashion_classifier.learning.weights import UNKNOWN, CapOptions, Sender, cap, senders, water_level
from fashion_classifier.storage.base import LoggedCorrection


def share_of(capping_factors: np.ndarray, members: np.ndarray) -> float:
    return float(capping_factors[members].sum() / capping_factors.sum())


def test_one_client_sending_a_fifth_of_the_corrections_is_cut_to_its_share() -> None:
    honest = [Sender(f"user-{i % 40}", f"hour-{i % 30}") for i in range(400)]
    flood = [Sender("attacker", f"hour-{i % 30}") for i in range(100)]
    capping = cap(honest + flood, CapOptions(client_share=0.05))
    attacker = np.arange(500) >= 400
    assert share_of(capping.factors, attacker) == pytest.approx(0.05)
    assert np.all(capping.factors[~attacker] == 1)  # nobody else loses weight
    assert [c["client"] for c in capping.capped_clients] == ["attacker"]
    assert any("capped client attacker: 100 corrections" in line for line in capping.lines())


def test_a_burst_from_many_addresses_is_cut_to_its_share() -> None:
    honest = [Sender(f"user-{i % 40}", f"hour-{i % 50}") for i in range(400)]
    burst = [Sender(f"bot-{i}", "01:00") for i in range(100)]  # a client each, all at once
    capping = cap(honest + burst, CapOptions(burst_share=0.10))
    in_burst = np.arange(500) >= 400
    assert share_of(capping.factors, in_burst) <= 0.10 + 1e-6
    assert [b["from"] for b in capping.capped_bursts] == ["01:00"]


def test_with_one_or_two_clients_nothing_is_cut_and_weights_never_rise() -> None:
    alone = cap([Sender("one", "w")] * 30, CapOptions())
    assert np.all(alone.factors == 1) and not alone.capped_clients
    two = cap([Sender("a", "w1")] * 30 + [Sender("b", "w2")] * 3, CapOptions())
    assert np.all(two.factors == 1)
    # Three clients: none above twice an equal share (2/3), the small ones untouched.
    three = cap([Sender("a", "w")] * 30 + [Sender("b", "w")] * 3 + [Sender("c", "w")] * 1, CapOptions())
    assert three.factors[:30].sum() == pytest.approx(2 / 3 * three.factors.sum())
    assert np.all(three.factors[30:] == 1) and np.all(three.factors <= 1)


def test_the_water_level_gives_each_cut_group_exactly_its_share() -> None:
    totals = [500.0, 120.0, 30.0] + [10.0] * 60
    level = water_level(totals, 0.05)
    kept = [min(t, level) for t in totals]
    assert max(kept) == pytest.approx(0.05 * sum(kept))
    assert level > 30  # only the two largest were cut
    assert water_level([5.0] * 30, 0.05) == float("inf")  # equal shares: nothing to cut


def test_corrections_without_a_log_entry_count_as_one_unknown_client() -> None:
    logged, unlogged, never = uuid.uuid4(), uuid.uuid4(), None
    at = datetime(2026, 12, 6, 1, 7, tzinfo=UTC)
    log = [
        LoggedCorrection(logged, at, "first", "Coat"),
        LoggedCorrection(logged, at + timedelta(minutes=1), "second", "Shirt"),  # the one standing
    ]
    found = senders([logged, unlogged, never], log, timedelta(minutes=10))
    assert found == [
        Sender("second", "2026-12-06T01:00+00:00"),
        Sender(UNKNOWN, UNKNOWN),
        Sender(UNKNOWN, UNKNOWN),
    ]
    many_old = cap(
        [Sender(UNKNOWN, UNKNOWN)] * 100 + [Sender(f"u{i}", f"w{i}") for i in range(60)], CapOptions()
    )
    assert many_old.unlogged == 100 and many_old.clients == 61
    assert many_old.factors[:100].sum() == pytest.approx(0.05 * many_old.factors.sum(), rel=1e-3)
