"""Prometheus metrics: requests, latency, predictions by class, feedback, store errors, the model served.

Under granian each worker is a process; prometheus-client's multiprocess mode (the
PROMETHEUS_MULTIPROC_DIR directory, handed to it by `fashion-classifier serve` through
config.hand_metrics_dir_to_prometheus) adds them up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

REQUESTS = Counter("fashion_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "fashion_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PREDICTIONS = Counter("fashion_predictions_total", "Pictures classified, by predicted class", ["label"])
VERDICTS = Counter(
    "fashion_garment_verdicts_total",
    "Pictures classified, by verdict: garment, not_garment, or none (a model without a verdict)",
    ["verdict"],
)
FEEDBACK = Counter("fashion_feedback_total", "Corrections received from users")
STORE_ERRORS = Counter("fashion_store_errors_total", "Requests that failed because the store was unavailable")
# 1 for the model version this process answers with; "livemax": one series per version that a
# live worker serves, so a rollout shows two versions at once and a switch shows a new one.
MODEL_INFO = Gauge(
    "fashion_model_info", "The model version that answers (value 1)", ["version"], multiprocess_mode="livemax"
)


# Label values must come from a closed set: nginx passes on any method token, and each new
# one would add a time series to Prometheus.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def register(app: Flask, *, model_version: str) -> None:
    MODEL_INFO.clear()
    MODEL_INFO.labels(model_version).set(1)
    app.before_request(_start_timer)
    app.after_request(_observe)


def model_switched(old: str, new: str) -> None:
    """fashion_model_info follows a live model switch: the old version's series goes, the new one's comes."""
    MODEL_INFO.labels(old).set(0)  # in a worker's file for good: render() leaves zeros out
    MODEL_INFO.remove(old)
    MODEL_INFO.labels(new).set(1)


class _ServedVersionsOnly:
    """Workers' files keep a series for every version they ever answered with; 0 means no longer."""

    def __init__(self, collector: multiprocess.MultiProcessCollector) -> None:
        self._collector = collector

    def collect(self) -> Iterator[Metric]:
        for metric in self._collector.collect():
            if metric.name == "fashion_model_info":
                metric.samples = [sample for sample in metric.samples if sample.value]
            yield metric


def render(multiprocess_dir: Path | None) -> Response:
    """The text exposition format, across all workers when they share `multiprocess_dir`."""
    if multiprocess_dir is not None:
        registry = CollectorRegistry()
        registry.register(
            _ServedVersionsOnly(multiprocess.MultiProcessCollector(None, path=str(multiprocess_dir)))
        )
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
    if started := g.get("metrics_started"):
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response
