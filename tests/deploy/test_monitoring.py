"""deploy/monitoring: the alert rules pass promtool's check and their unit tests, the Grafana
dashboard imports, and every metric and label they name is one the app really exports.

promtool comes from tools/promtool.sh (Debian's package, taken apart; Go as a fallback), so a
fresh machine needs nothing installed by hand.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from fashion_classifier.config import Settings
from fashion_classifier.storage import open_store
from fashion_classifier.web import create_app
from tests.deploy.dockerfile import ROOT
from tests.pictures import dataset_png, first_of_class

MONITORING = ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "alerts.test.yaml"
DASHBOARD = MONITORING / "dashboard.json"
# Labels Prometheus adds to every series it scrapes; the app never exports them.
TARGET_LABELS = {"job", "instance"}
# promtool from Debian takes seconds; built with Go (the fallback) it can take longer than
# pytest's 600 s per test, hence a limit of its own and a message that says what to do.
PROMTOOL_SETUP_SECONDS = 540


@pytest.fixture(scope="session")
def promtool() -> Path:
    script = ROOT / "tools" / "promtool.sh"
    # A session of its own: on time-out the whole group goes (a Go build runs in grandchildren).
    with subprocess.Popen(
        [str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            out, err = process.communicate(timeout=PROMTOOL_SETUP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"getting promtool took over {PROMTOOL_SETUP_SECONDS} s: run {script} once by itself")
    if process.returncode != 0:
        pytest.fail(f"tools/promtool.sh found no promtool:\n{err}")
    return Path(out.strip())


def run(promtool: Path, *args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@cache
def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard: its panels' targets and its variables' queries."""
    queries = [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def as_promql(query: str) -> str:
    """A dashboard query as Prometheus gets it: Grafana's variables filled in."""
    query = re.sub(r"\$__\w*interval\b", "5m", query)
    return re.sub(r"\$\{?\w+\}?", ".+", query)


# -- the alert rules --------------------------------------------------------------------------


def test_promtool_checks_the_alert_rules(promtool: Path) -> None:
    checked = run(promtool, "check", "rules", ALERTS.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_the_alert_rules_unit_tests_pass(promtool: Path) -> None:
    tested = run(promtool, "test", "rules", ALERT_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """An alert without a case where it fires might never fire; without a quiet case, always."""
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in rules()}
    assert alerts - fired == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested staying quiet"


def test_every_alert_says_what_it_means_and_the_readme_what_to_do() -> None:
    readme = (ROOT / "deploy" / "README.md").read_text()
    for rule in rules():
        assert rule["labels"]["severity"] in {"page", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert f"`{rule['alert']}`" in readme, f"deploy/README.md does not explain {rule['alert']}"


# -- the dashboard ----------------------------------------------------------------------------


def test_dashboard_imports_into_grafana() -> None:
    """What Grafana's import needs: a schema version, a uid, a data source to choose, and panels
    that each query through that data source and sit on the grid."""
    board = dashboard()
    assert isinstance(board["schemaVersion"], int) and board["uid"] and board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}, panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_dashboard_queries_are_valid_promql(promtool: Path, tmp_path: Path) -> None:
    """promtool parses each query, with Grafana's variables filled in, as a recording rule."""
    recorded = [
        {"record": f"dashboard:query_{n}", "expr": as_promql(query)}
        for n, query in enumerate(dashboard_queries())
        if not query.startswith("label_values(")  # Grafana's own function, not PromQL
    ]
    (tmp_path / "dashboard-queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]})
    )
    checked = run(promtool, "check", "rules", "dashboard-queries.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboard_shows_what_every_alert_watches() -> None:
    def families(query: str) -> set[str]:  # a histogram's _bucket, _count and _sum are one figure
        return {re.sub(r"_(bucket|count|sum)$", "", name) for name in metric_names(query)}

    on_dashboard = set().union(*(families(query) for query in dashboard_queries()))
    for rule in rules():
        assert families(rule["expr"]) <= on_dashboard, f"the dashboard lacks what {rule['alert']} watches"


# -- against the app's real /metrics ----------------------------------------------------------


Exported = dict[str, set[str]]  # sample name -> its label names


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Flask:
    folder = tmp_path_factory.mktemp("monitoring")
    settings = Settings(database_url=f"sqlite:///{folder}/metrics.db", model_path=model_path)
    open_store(settings.database_url).migrate()
    return create_app(settings)


@pytest.fixture(scope="module")
def exported(app: Flask) -> Exported:
    """Sample names and label names of /metrics, after the requests that make labelled series
    appear: an upload, a correction, a readiness probe."""
    client = app.test_client()
    png, _ = dataset_png(first_of_class(8))
    created = client.post(
        "/api/v1/predictions",
        data={"file": [(io.BytesIO(png), "bag.png")]},
        content_type="multipart/form-data",
    )
    assert created.status_code == 201
    record_id = created.get_json()["predictions"][0]["id"]
    assert client.post(f"/api/v1/predictions/{record_id}/feedback", json={"label": "Coat"}).status_code == 200
    assert client.get("/readyz").status_code == 200
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    names: Exported = {}
    for family in text_string_to_metric_families(scraped.get_data(as_text=True)):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def metric_names(query: str) -> set[str]:
    return set(re.findall(r"\bfashion_\w+", query))


def every_query() -> list[tuple[str, str]]:
    """(where, query) of every query the alerts and the dashboard run."""
    return [(f"alert {rule['alert']}", rule["expr"]) for rule in rules()] + [
        (f"dashboard query {query!r}", query) for query in dashboard_queries()
    ]


def test_every_metric_the_alerts_and_dashboard_name_is_exported(exported: Exported) -> None:
    for where, query in every_query():
        missing = metric_names(query) - exported.keys()
        assert not missing, f"{where} names {missing}, which /metrics does not export"


def test_every_label_the_alerts_and_dashboard_use_is_exported(exported: Exported, app: Flask) -> None:
    """Labels in matchers and in by (...): a renamed label would leave an alert matching nothing.
    Values of `endpoint` must be the app's routes."""
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    for where, query in every_query():
        labels = set().union(*(exported.get(name, set()) for name in metric_names(query))) | TARGET_LABELS
        for selector in re.findall(r"\bfashion_\w+\{([^}]*)\}", query):
            for label, _, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector):
                assert label in labels, f"{where} matches on {label!r}, which its metrics lack"
                if label == "endpoint":
                    assert set(value.split("|")) <= routes, f"{where}: {value!r} is no route of the app"
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", query):
            for label in filter(None, (name.strip() for name in grouping.split(","))):
                assert label in labels, f"{where} groups by {label!r}, which its metrics lack"
