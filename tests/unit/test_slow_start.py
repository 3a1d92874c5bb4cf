"""A Cassandra node that has just come back is not made first coordinator at once (SlowStart)."""

from __future__ import annotations

from typing import Any

from cassandra.policies import LoadBalancingPolicy

from fashion_classifier.storage.cassandra_session import SlowStart


class FixedPlan(LoadBalancingPolicy):
    """The child policy: always the same order, as token awareness gives for one partition."""

    def __init__(self, hosts: list[str]) -> None:
        super().__init__()
        self.hosts = hosts

    def make_query_plan(self, working_keyspace: Any = None, query: Any = None) -> list[str]:
        return list(self.hosts)

    def on_up(self, host: Any) -> None:
        pass

    def on_down(self, host: Any) -> None:
        pass


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def policy(clock: Clock, draw: float) -> SlowStart:
    return SlowStart(FixedPlan(["n1", "n2", "n3"]), warm_up_s=60, clock=clock, draw=lambda: draw)


def test_a_node_back_from_the_dead_is_tried_last_at_first_then_in_its_turn() -> None:
    clock = Clock()
    routing = policy(clock, draw=0.5)
    routing.on_up("n1")
    assert list(routing.make_query_plan()) == ["n2", "n3", "n1"]  # still a candidate, last
    clock.now = 20  # a third warm: kept back when the draw is at least 1/3
    assert list(routing.make_query_plan()) == ["n2", "n3", "n1"]
    clock.now = 40  # two thirds warm: this draw lets it first
    assert list(routing.make_query_plan()) == ["n1", "n2", "n3"]
    clock.now = 60
    assert list(policy(clock, draw=0.999).make_query_plan()) == ["n1", "n2", "n3"]


def test_nodes_up_since_the_start_and_nodes_gone_down_again_keep_their_place() -> None:
    clock = Clock()
    routing = policy(clock, draw=0.0)
    assert list(routing.make_query_plan()) == ["n1", "n2", "n3"]
    routing.on_up("n2")
    routing.on_down("n2")
    assert list(routing.make_query_plan()) == ["n1", "n2", "n3"]
