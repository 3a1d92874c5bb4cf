"""Property-based API testing: generated requests against /openapi.json of a running server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Every operation the fuzzing test below drives; the last test holds it to the document.
FUZZED = [
    "POST /api/v1/predictions",
    "GET /api/v1/predictions",
    "GET /api/v1/predictions/{record_id}",
    "GET /api/v1/predictions/{record_id}/image",
    "POST /api/v1/predictions/{record_id}/feedback",
    "GET /api/v1/model",
    "GET /api/v1/predictions/{record_id}/similar",
    "POST /api/v1/search",
    "GET /api/v1/models",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("schemathesis")
    running = start_server(f"sqlite:///{folder}/fuzz.db", folder / "server.log")
    # One real record, so that listing answers carry predictions whose shape gets checked.
    png, _ = dataset_png(0)
    created = requests.post(
        f"{running.url}/api/v1/predictions", files={"file": ("seed.png", png)}, timeout=30
    )
    assert created.status_code == 201
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def api_schema(site: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{site.url}/openapi.json")


# schemathesis' pytest plugin does not load under pytest 9 here ("no attribute _nodeid"), so each
# operation's Hypothesis strategy is driven directly.
@pytest.mark.parametrize("method_and_path", FUZZED)
def test_api_never_fails_and_matches_its_schema(
    api_schema: schemathesis.BaseSchema, method_and_path: str
) -> None:
    method, path = method_and_path.split(" ")
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def exercise(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    exercise()


def test_every_documented_api_operation_is_in_the_fuzzed_list(api_schema: schemathesis.BaseSchema) -> None:
    """A new operation in /openapi.json fails here until it is added to FUZZED (and so fuzzed)."""
    documented = set()
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"/openapi.json has an operation schemathesis cannot read: {result}"
        documented.add(f"{result.ok().method.upper()} {result.ok().path}")
    assert documented == set(FUZZED)
