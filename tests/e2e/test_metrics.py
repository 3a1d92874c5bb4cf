"""/metrics speaks Prometheus and its counters follow the uploads, across gunicorn workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Server, start_server, stop_server
from tests.pictures import dataset_png, first_of_class


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("metrics")
    running = start_server(f"sqlite:///{folder}/metrics.db", folder / "server.log", WEB_CONCURRENCY="2")
    yield running
    stop_server(running)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: Server) -> Samples:
    response = requests.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, sample_labels), v in samples.items() if n == name and wanted <= set(sample_labels))


def test_counters_move_with_uploads_and_feedback(site: Server) -> None:
    before = scrape(site)
    png, _ = dataset_png(first_of_class(8))  # a bag
    ids = []
    for _ in range(6):  # enough requests to reach both workers
        answer = requests.post(f"{site.url}/api/v1/predictions", files={"file": ("bag.png", png)}, timeout=30)
        assert answer.status_code == 201
        ids.append(answer.json()["predictions"][0]["id"])
    feedback = requests.post(
        f"{site.url}/api/v1/predictions/{ids[0]}/feedback", json={"label": "Coat"}, timeout=30
    )
    assert feedback.status_code == 200
    after = scrape(site)

    route = "/api/v1/predictions"
    assert (
        total(after, "fashion_http_requests_total", endpoint=route, status="201")
        - total(before, "fashion_http_requests_total", endpoint=route, status="201")
        == 6
    )
    assert (
        total(after, "fashion_predictions_total", label="Bag")
        - total(before, "fashion_predictions_total", label="Bag")
        == 6
    )
    assert total(after, "fashion_feedback_total") - total(before, "fashion_feedback_total") == 1
    assert total(after, "fashion_http_request_duration_seconds_count", endpoint=route) >= 6
    assert ("fashion_store_errors_total", ()) in after


def test_the_model_version_is_one_series_across_workers(site: Server) -> None:
    """The model-switch alerts count versions: two workers answering with one model are one series."""
    model = requests.get(f"{site.url}/readyz", timeout=10).json()["model"]
    served = {labels: value for (name, labels), value in scrape(site).items() if name == "fashion_model_info"}
    assert served == {(("version", model),): 1.0}
