"""deploy/k8s/cassandra-snapshot-cronjob.yaml: its script run against a stand-in kubectl, and its
fit with the StatefulSet and the app's settings (the schema check is in test_deploy_files.py)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.test_deploy_files import manifests

STUB = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$1" in
  get) printf 'pod/cassandra-0\\npod/cassandra-1\\npod/cassandra-2\\n' ;;
  exec) [ "$2" != "pod/$FAILING" ] || { echo "error: container not running" >&2; exit 1; } ;;
esac
"""


def cronjob() -> dict[str, Any]:
    return manifests()["CronJob/cassandra-snapshot"]


def snapshot_container() -> dict[str, Any]:
    (only,) = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return only


def run_script(tmp_path: Path, failing: str = "") -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The container's script under sh, its kubectl a stub that lists three pods and records calls."""
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(STUB)
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    container = snapshot_container()
    env = {e["name"]: e["value"] for e in container["env"]}
    env |= {"PATH": f"{tmp_path}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"), "FAILING": failing}
    done = subprocess.run(
        [*container["command"], *container["args"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done, (tmp_path / "calls").read_text().splitlines()


def test_every_cassandra_pod_gets_a_snapshot_of_the_apps_keyspace(tmp_path: Path) -> None:
    done, calls = run_script(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    execs = [call for call in calls if call.startswith("exec")]
    assert [call.split()[1] for call in execs] == ["pod/cassandra-0", "pod/cassandra-1", "pod/cassandra-2"]
    tags = {call.split(" -t ")[1].split()[0] for call in execs}
    assert len(tags) == 1 and tags.pop().startswith("nightly-")  # one tag: the same moment on every node
    assert all("nodetool snapshot --ttl 7d -t nightly-" in call for call in execs)
    assert all(call.endswith("-- fashion_classifier") for call in execs)


def test_a_node_that_fails_is_named_and_the_others_still_get_theirs(tmp_path: Path) -> None:
    done, calls = run_script(tmp_path, failing="cassandra-1")
    assert done.returncode == 1
    assert "on: cassandra-1" in done.stdout
    assert len([call for call in calls if call.startswith("exec")]) == 3


def test_it_snapshots_the_keyspace_the_app_uses() -> None:
    url = manifests()["ConfigMap/fashion-classifier"]["data"]["DATABASE_URL"]
    keyspace = next(e["value"] for e in snapshot_container()["env"] if e["name"] == "KEYSPACE")
    assert url.rsplit("/", 1)[1] == keyspace


def test_it_may_exec_into_exactly_the_statefulsets_pods_and_nothing_else() -> None:
    statefulset = manifests()["StatefulSet/cassandra"]["spec"]
    pods = [f"cassandra-{k}" for k in range(statefulset["replicas"])]
    rules = manifests()["Role/cassandra-snapshot"]["rules"]
    assert {tuple(rule["resources"]) for rule in rules} == {("pods",), ("pods/exec",)}
    exec_rule = next(rule for rule in rules if rule["resources"] == ["pods/exec"])
    assert exec_rule["resourceNames"] == pods and exec_rule["verbs"] == ["create"]
    assert next(r for r in rules if r["resources"] == ["pods"])["verbs"] == ["get", "list"]
    names = [c["name"] for c in statefulset["template"]["spec"]["containers"]]
    assert "-c cassandra" in snapshot_container()["args"][0] and "cassandra" in names
    label = statefulset["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    assert f"app.kubernetes.io/name={label}" in snapshot_container()["args"][0]
    pod = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    binding = manifests()["RoleBinding/cassandra-snapshot"]
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"] == "cassandra-snapshot"
