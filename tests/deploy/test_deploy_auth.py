"""Cassandra with password authentication in compose and Kubernetes, and only the app on 9042.

Checked as files (no container engine here), plus the roles script run against a stand-in
cqlsh that behaves like a fresh node: the default superuser password works until it is changed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.dockerfile import ROOT, Stage

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
ROLES_SCRIPT = K8S / "cassandra-roles.sh"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def k8s_objects() -> dict[str, dict[str, Any]]:
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for document in yaml.safe_load_all(path.read_text()):
                objects[f"{document['kind']}/{document['metadata']['name']}"] = document
    return objects


def pod_spec(kind_and_name: str) -> dict[str, Any]:
    spec: dict[str, Any] = k8s_objects()[kind_and_name]["spec"]["template"]
    return spec


def env_sources(kind_and_name: str) -> dict[str, Any]:
    (container,) = pod_spec(kind_and_name)["spec"]["containers"]
    return {e["name"]: e.get("valueFrom", e.get("value")) for e in container.get("env", [])}


def test_compose_switches_cassandra_to_password_authentication() -> None:
    cassandra = compose()["services"]["cassandra"]
    command = " ".join(cassandra["entrypoint"])
    assert "PasswordAuthenticator" in command and "exec docker-entrypoint.sh cassandra -f" in command
    mounted = [v for v in cassandra["volumes"] if v.endswith(":/opt/cassandra-roles.sh:ro")]
    assert mounted and (DEPLOY / mounted[0].split(":")[0]).resolve() == ROLES_SCRIPT
    assert "-u" in " ".join(cassandra["healthcheck"]["test"])  # healthy = the app's role logs in


def test_compose_takes_passwords_from_the_environment_only() -> None:
    services = compose()["services"]
    for service in ("cassandra", "migrate", "app"):
        password = services[service]["environment"]["CASSANDRA_PASSWORD"]
        assert password.startswith("${CASSANDRA_PASSWORD:?"), f"{service}: a password must not have a default"
    assert services["cassandra"]["environment"]["CASSANDRA_SUPERUSER_PASSWORD"].startswith("${")
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().split()


def test_the_image_carries_no_credentials(final_stage: Stage) -> None:
    assert not {"CASSANDRA_PASSWORD", "CASSANDRA_USERNAME"} & set(final_stage.env())


def test_kubernetes_takes_credentials_from_a_secret_that_is_not_committed() -> None:
    for workload in (
        "Deployment/fashion-classifier",
        "Job/fashion-classifier-migrate",
        "StatefulSet/cassandra",
    ):
        sources = env_sources(workload)
        assert sources["CASSANDRA_PASSWORD"]["secretKeyRef"]["name"] == "cassandra-credentials"
    assert "CASSANDRA_SUPERUSER_PASSWORD" in env_sources("StatefulSet/cassandra")
    assert not [name for name in k8s_objects() if name.startswith("Secret/")]


def test_kubernetes_cassandra_runs_the_roles_script_and_checks_readiness_as_the_app() -> None:
    spec = pod_spec("StatefulSet/cassandra")["spec"]
    (container,) = spec["containers"]
    assert "PasswordAuthenticator" in " ".join(container["args"])
    assert "CASSANDRA_PASSWORD" in " ".join(container["readinessProbe"]["exec"]["command"])
    (volume,) = [v for v in spec["volumes"] if "configMap" in v]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    generated = {g["name"]: g["files"] for g in kustomization["configMapGenerator"]}
    assert generated[volume["configMap"]["name"]] == [ROLES_SCRIPT.name]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_only_the_app_reaches_cassandra_on_9042() -> None:
    policy = k8s_objects()["NetworkPolicy/cassandra"]["spec"]
    cassandra_labels = pod_spec("StatefulSet/cassandra")["metadata"]["labels"]
    assert matches(policy["podSelector"]["matchLabels"], cassandra_labels)
    assert policy["policyTypes"] == ["Ingress"]
    cql_rules = [rule for rule in policy["ingress"] if any(p["port"] == 9042 for p in rule["ports"])]
    (rule,) = cql_rules
    (source,) = rule["from"]
    assert set(source) == {"podSelector"}  # no namespaceSelector or ipBlock: pods of this namespace
    assert matches(
        source["podSelector"]["matchLabels"], pod_spec("Deployment/fashion-classifier")["metadata"]["labels"]
    )
    assert not matches(source["podSelector"]["matchLabels"], cassandra_labels)


# A node's superuser password in a file, the app role's in another (none: no such role); CQL is
# logged; CREATE and ALTER ROLE change the files as Cassandra would. $STATE.flaky makes the first
# login of the app's role after its creation fail (a cqlsh timeout on a busy node), and an ALTER of
# that role right after its CREATE is refused, as Cassandra 5.0 refuses a second password change
# within 5 s.
STAND_IN_CQLSH = """#!/bin/sh
# cqlsh 127.0.0.1 -u ROLE -p PASSWORD -e CQL [timeouts]
if [ "$3" = fashion ] && [ -e "$STATE.fashion" ] && [ -e "$STATE.flaky" ]; then
  rm "$STATE.flaky"; echo "OperationTimedOut: errors={}, last_host=127.0.0.1:9042"; exit 1
fi
if [ "$3" = cassandra ]; then
  [ "$5" = "$(cat "$STATE")" ] || exit 1
else
  [ "$5" = "$(cat "$STATE.$3" 2>/dev/null)" ] || exit 1
fi
echo "$7" >> "$STATE.log"
case "$7" in
  "ALTER ROLE cassandra WITH PASSWORD = '"*) echo "$7" | cut -d"'" -f2 > "$STATE" ;;
  "CREATE ROLE IF NOT EXISTS fashion "*)
    [ -e "$STATE.fashion" ] || { echo "$7" | cut -d"'" -f2 > "$STATE.fashion"; touch "$STATE.fresh"; } ;;
  "ALTER ROLE fashion "*)
    if [ -e "$STATE.fresh" ]; then
      rm "$STATE.fresh"; echo "Password for role fashion can only be changed every 5000ms."; exit 1
    fi
    echo "$7" | cut -d"'" -f2 > "$STATE.fashion" ;;
esac
"""


def run_roles_script(
    tmp_path: Path, superuser_password: str, app_password: str | None = None, *, flaky: bool = False
) -> tuple[str, list[str]]:
    """Run the script against the stand-in; the node's superuser password and the CQL it ran."""
    state = tmp_path / "superuser"
    state.write_text(superuser_password + "\n")
    if app_password is not None:
        (tmp_path / "superuser.fashion").write_text(app_password + "\n")
    if flaky:
        (tmp_path / "superuser.flaky").touch()
    (tmp_path / "cqlsh").write_text(STAND_IN_CQLSH)
    (tmp_path / "cqlsh").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        "STATE": str(state),
        "CASSANDRA_SUPERUSER_PASSWORD": "s3cret",
        "CASSANDRA_USERNAME": "fashion",
        "CASSANDRA_PASSWORD": "app1",
        "CASSANDRA_ROLES_RETRY_SECONDS": "0",
        "CASSANDRA_ROLES_MAX_TRIES": "5",
    }
    result = subprocess.run(
        ["sh", str(ROLES_SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    log = tmp_path / "superuser.log"
    return state.read_text().strip(), log.read_text().splitlines() if log.exists() else []


def test_roles_script_on_a_fresh_node_replaces_the_default_password_and_adds_the_app_role(
    tmp_path: Path,
) -> None:
    superuser, statements = run_roles_script(tmp_path, "cassandra")
    assert superuser == "s3cret"
    assert any(
        "CREATE ROLE IF NOT EXISTS fashion WITH LOGIN = true AND PASSWORD = 'app1'" in s for s in statements
    )
    # Cassandra 5.0 refuses a second password change within 5 s: no ALTER right after the CREATE.
    assert not any("ALTER ROLE fashion" in s for s in statements)


def test_roles_script_on_a_restarted_node_keeps_the_password_and_updates_the_role(tmp_path: Path) -> None:
    superuser, statements = run_roles_script(tmp_path, "s3cret", app_password="old1")
    assert superuser == "s3cret"
    assert not any(s.startswith("ALTER ROLE cassandra") for s in statements)
    assert any("ALTER ROLE fashion WITH PASSWORD = 'app1'" in s for s in statements)
    assert (tmp_path / "superuser.fashion").read_text().strip() == "app1"


def test_roles_script_outlasts_a_failed_login_right_after_creating_the_role(tmp_path: Path) -> None:
    superuser, statements = run_roles_script(tmp_path, "cassandra", flaky=True)
    assert superuser == "s3cret"
    assert (tmp_path / "superuser.fashion").read_text().strip() == "app1"
    assert statements[-1] == "SELECT release_version FROM system.local"  # the role logged in at last
