"""Static checks of deploy/: linters and schemas, then what a user of each file would notice.

No Docker engine is needed: the Dockerfile, the compose file and the Kubernetes manifests are
checked as files. The tools (hadolint, check-jsonschema, kubernetes-validate) come from the
dev extra and are called from this interpreter's bin/, never from PATH; all work offline.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from fashion_classifier.config import Settings
from tests.deploy.dockerfile import ROOT, Stage, stage_named

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
# The oldest Kubernetes minor still commonly run, and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.29.0", "latest"]


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = BIN / name
    assert tool.is_file(), f"{tool} is missing: install the dev extra (pip install -e '.[dev]')"
    return subprocess.run(
        [str(tool), *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def interpolate(value: Any) -> str:
    """Compose's ${VAR:-default} as a user without those variables set gets it."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(value))


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@cache
def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/k8s, by 'Kind/name'."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for document in yaml.safe_load_all(path.read_text()):
                objects[f"{document['kind']}/{document['metadata']['name']}"] = document
    return objects


def container(kind_and_name: str) -> dict[str, Any]:
    (only,) = manifests()[kind_and_name]["spec"]["template"]["spec"]["containers"]
    return only


def exposed_port(stage: Stage) -> int:
    exposes = stage.all("EXPOSE")
    assert len(exposes) == 1, "the final stage should EXPOSE exactly one port"
    return int(exposes[0].arguments.split("/")[0])


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


class _Recorder(dict[str, str]):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def settings_variables() -> set[str]:
    """The variables the app reads, plus the one prometheus-client reads itself."""
    recorder = _Recorder()
    Settings.from_env(recorder)
    return recorder.asked | {"PROMETHEUS_MULTIPROC_DIR"}


# -- linters and schemas -------------------------------------------------------------------


def test_hadolint_reports_nothing_on_the_dockerfile() -> None:
    # Threshold "style": infos and style notes fail too. A deliberate exception belongs in
    # the Dockerfile as `# hadolint ignore=DLxxxx` with its reason on the line above.
    result = run_tool("hadolint", "--no-color", "--failure-threshold", "style", "deploy/Dockerfile")
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_follow_the_kubernetes_schemas(version: str) -> None:
    # --strict rejects unknown fields (a misspelt key is otherwise silently ignored by the
    # API server). A WARN means "no schema for this kind", i.e. not validated: fail on it too.
    files = [str(path) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"]
    versions = [] if version == "latest" else ["--kubernetes-version", version]
    result = run_tool("kubernetes-validate", "--strict", "--quiet", *versions, *files)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(on_disk)


# -- Dockerfile ----------------------------------------------------------------------------


def test_a_plain_build_gives_the_slim_serving_image(final_stage: Stage) -> None:
    assert final_stage.name == "runtime", "the serving stage must be the last one (docker build's default)"
    assert final_stage.base.startswith("python:3.11-slim")


def test_the_server_runs_as_a_numeric_non_root_user(final_stage: Stage) -> None:
    user = final_stage.last("USER")
    assert user is not None, "no USER: the server would run as root"
    uid = user.arguments.split(":")[0]
    # Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
    assert uid.isdigit() and int(uid) != 0


def test_the_serving_image_has_the_nginx_that_serve_starts(final_stage: Stage) -> None:
    installs = " ".join(run.arguments for run in final_stage.all("RUN") if "apt-get install" in run.arguments)
    assert re.search(r"\snginx=", installs), "serve starts nginx before the workers: the image needs it"


def test_the_server_listens_on_all_interfaces_on_the_exposed_port(final_stage: Stage) -> None:
    command = final_stage.command()
    assert command[:2] == ["fashion-classifier", "serve"]
    # 127.0.0.1 inside a container is unreachable through a published port.
    assert option(command, "--host") == "0.0.0.0"
    assert int(option(command, "--port")) == exposed_port(final_stage) == 8987


def test_healthcheck_asks_healthz_without_curl(final_stage: Stage) -> None:
    healthcheck = final_stage.last("HEALTHCHECK")
    assert healthcheck is not None
    command = healthcheck.exec_form()
    assert command[0] == "python", "the slim image has no curl or wget"
    assert f"127.0.0.1:{exposed_port(final_stage)}/healthz" in command[-1]


def test_serving_image_has_no_tensorflow(stages: list[Stage], final_stage: Stage) -> None:
    # Everything the final stage is made of: itself, the stages it copies from, and their bases.
    names = {stage.name for stage in stages}
    todo, seen = [final_stage], []
    while todo:
        stage = todo.pop()
        seen.append(stage)
        sources = [re.search(r"--from=(\S+)", i.arguments) for i in stage.all("COPY")]
        parents = [m[1] for m in sources if m] + ([stage.base] if stage.base in names else [])
        todo += [stage_named(stages, name) for name in parents]
    for stage in seen:
        for run in stage.all("RUN"):
            assert not re.search(r"tensorflow|\[train\]", run.arguments), (
                f"stage {stage.name}: {run.arguments}"
            )


def test_serving_dependencies_have_no_tensorflow() -> None:
    # The builder installs the project without extras: its plain dependencies must stay lean.
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in dependencies if re.match(r"(tensorflow|keras|tf2onnx)", d, re.IGNORECASE)]


def test_every_setting_given_to_the_app_is_one_it_reads(final_stage: Stage) -> None:
    # A misspelt variable (WEB_CONCURENCY) would be ignored without a word.
    given = {
        "Dockerfile ENV": set(final_stage.env())
        - {"PATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"},
        "compose app": set(compose()["services"]["app"]["environment"]),
        "ConfigMap": set(manifests()["ConfigMap/fashion-classifier"]["data"]),
    }
    known = settings_variables()
    for where, names in given.items():
        assert names <= known, f"{where}: {sorted(names - known)} are not read by the app"


def test_the_image_ships_the_model_and_finds_it(final_stage: Stage) -> None:
    copies = [i.arguments.split() for i in final_stage.all("COPY") if "--from" not in i.arguments]
    destination = next(words[-1] for words in copies if words[0].rstrip("/") == "models")
    # The package is installed (not editable): MODEL_PATH must name the copied file.
    model_path = final_stage.env()["MODEL_PATH"]
    assert model_path == destination.rstrip("/") + "/fashion_cnn.int8.onnx"
    assert (ROOT / "models" / "fashion_cnn.int8.onnx").is_file()


def test_train_target_installs_the_train_extra(stages: list[Stage]) -> None:
    train = stage_named(stages, "train")
    assert train.command()[:2] == ["fashion-classifier", "train"]
    assert "/out/fashion_cnn.onnx" in train.command(), "the model must land in the /out volume"
    builder = stage_named(
        stages, next(m[1] for i in train.all("COPY") if (m := re.search(r"--from=(\S+)", i.arguments)))
    )
    assert any("[train]" in run.arguments for run in builder.all("RUN"))


# .dockerignore: Docker's rules as far as this file uses them (last match wins, `!` re-includes,
# `**` spans folders, a pattern matching a folder covers everything below it).
def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include, pattern = line.startswith("!"), line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        rules.append((include, re.compile(regex)))
    return rules


def in_build_context(path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    kept = True
    for include, regex in _dockerignore_rules():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            kept = include
    return kept


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "data/predictions.db",
        ".checkpoint/ckpt.weights.h5",
        "tools/cassandra/lib/cassandra-all-5.0.8.jar",
        "tools/cassandra/run/node1/data/x.db",
        "tests/conftest.py",
        "test-artifacts/trace.zip",
        "docs/screenshots/upload.png",
        "src/fashion_classifier/__pycache__/cli.cpython-311.pyc",
        "models/fashion_cnn.confusion.png",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert not in_build_context(path)


def test_build_context_has_everything_the_dockerfile_copies(stages: list[Stage]) -> None:
    sources = [
        source
        for stage in stages
        for copy in stage.all("COPY")
        if "--from" not in copy.arguments
        for source in [w for w in copy.arguments.split() if not w.startswith("--")][:-1]
    ]
    assert sources, "the Dockerfile copies nothing from the context"
    for source in sources:
        files = [p for p in (ROOT / source).rglob("*") if p.is_file()] if (ROOT / source).is_dir() else []
        files = files or [ROOT / source]
        kept = [f for f in files if in_build_context(f.relative_to(ROOT).as_posix())]
        assert kept, f"COPY {source}: nothing of it reaches the build context (.dockerignore)"
    assert in_build_context("src/fashion_classifier/cli.py")
    for shipped in ("fashion_cnn.int8.onnx", "fashion_cnn.int8.json", "fashion_cnn.onnx", "fashion_cnn.json"):
        assert in_build_context(f"models/{shipped}")


# -- compose -------------------------------------------------------------------------------


def test_compose_puts_both_services_on_deewhy_network() -> None:
    spec = compose()
    assert spec["networks"]["deewhy-network"]["name"] == "deewhy-network"
    for service in ("app", "cassandra"):
        assert "deewhy-network" in spec["services"][service]["networks"]


def test_compose_publishes_the_app_on_8987() -> None:
    ports = [interpolate(port) for port in compose()["services"]["app"]["ports"]]
    assert "8987:8987" in ports


def test_compose_starts_the_app_once_cassandra_answers_cql() -> None:
    services = compose()["services"]
    assert services["app"]["depends_on"]["cassandra"]["condition"] == "service_healthy"
    cassandra = services["cassandra"]
    assert cassandra["image"] == "cassandra:5.0"
    test = " ".join(cassandra["healthcheck"]["test"])
    assert "cqlsh" in test and "SELECT" in test
    assert "restart" in services["app"] and "restart" in cassandra


def test_compose_migrates_the_schema_once_before_the_app_starts() -> None:
    services = compose()["services"]
    migrate, app = services["migrate"], services["app"]
    assert migrate["command"] == ["migrate"] and migrate["image"] == app["image"]
    assert migrate["restart"] == "no"  # one-off: it exits when done
    assert migrate["environment"]["DATABASE_URL"] == app["environment"]["DATABASE_URL"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["cassandra"]["condition"] == "service_healthy"


def test_k8s_migrates_with_one_job_using_the_apps_image_and_settings() -> None:
    job = manifests()["Job/fashion-classifier-migrate"]
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    web = container("Deployment/fashion-classifier")
    assert migrate["args"] == ["migrate"]
    assert migrate["image"] == web["image"]
    assert migrate["envFrom"] == web["envFrom"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "initContainers" not in manifests()["Deployment/fashion-classifier"]["spec"]["template"]["spec"]


def test_compose_keeps_cassandra_data_in_a_named_volume() -> None:
    spec = compose()
    (mount,) = [v for v in spec["services"]["cassandra"]["volumes"] if v.endswith(":/var/lib/cassandra")]
    assert mount.split(":")[0] in spec["volumes"]


def test_compose_app_talks_to_the_cassandra_service() -> None:
    environment = compose()["services"]["app"]["environment"]
    url = environment["DATABASE_URL"]
    assert url.startswith("cassandra://cassandra:9042/")
    assert environment["CASSANDRA_CONSISTENCY"] == "LOCAL_QUORUM"


def test_compose_builds_the_images_from_deploy_dockerfile(stages: list[Stage]) -> None:
    services = compose()["services"]
    for service, target in (("app", stages[-1].name), ("train", "train")):
        build = services[service]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == ROOT / "deploy" / "Dockerfile"
        assert build["target"] == target and any(stage.name == target for stage in stages)
    assert services["train"]["profiles"] == ["train"], "`up` must not start a training run"


# -- Kubernetes ----------------------------------------------------------------------------


def test_deployment_probes_hit_readyz_and_healthz_on_the_container_port(final_stage: Stage) -> None:
    web = container("Deployment/fashion-classifier")
    ports = {port.get("name"): port["containerPort"] for port in web["ports"]}
    assert list(ports.values()) == [exposed_port(final_stage)]
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = web[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == exposed_port(final_stage)


def test_deployment_is_locked_down(final_stage: Stage) -> None:
    pod = manifests()["Deployment/fashion-classifier"]["spec"]["template"]["spec"]
    web = container("Deployment/fashion-classifier")
    assert pod["securityContext"]["runAsNonRoot"] is True
    user = final_stage.last("USER")
    assert user is not None
    assert str(pod["securityContext"]["runAsUser"]) == user.arguments.split(":")[0]
    assert web["securityContext"]["readOnlyRootFilesystem"] is True
    assert web["securityContext"]["allowPrivilegeEscalation"] is False
    # The only writable place: /tmp, an emptyDir (nginx and Prometheus write there).
    (tmp,) = [m for m in web["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp["name"]]
    assert "emptyDir" in volume
    metrics_dir = manifests()["ConfigMap/fashion-classifier"]["data"]["PROMETHEUS_MULTIPROC_DIR"]
    assert metrics_dir.startswith("/tmp/")
    assert set(web["resources"]) == {"requests", "limits"}


def test_service_and_hpa_point_at_the_deployment() -> None:
    objects = manifests()
    pod_labels = objects["Deployment/fashion-classifier"]["spec"]["template"]["metadata"]["labels"]
    service = objects["Service/fashion-classifier"]["spec"]
    assert service["selector"].items() <= pod_labels.items()
    container_ports = {p["name"] for p in container("Deployment/fashion-classifier")["ports"]}
    assert all(port["targetPort"] in container_ports for port in service["ports"])
    hpa = objects["HorizontalPodAutoscaler/fashion-classifier"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "fashion-classifier",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert hpa["spec"]["minReplicas"] >= 2


def test_disruption_budgets_cover_the_pods() -> None:
    objects = manifests()
    for workload in ("Deployment/fashion-classifier", "StatefulSet/cassandra"):
        labels = objects[workload]["spec"]["template"]["metadata"]["labels"]
        budgets = [
            o
            for o in objects.values()
            if o["kind"] == "PodDisruptionBudget"
            and o["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(budgets) == 1, f"{workload}: expected one PodDisruptionBudget"


def test_keyspace_replication_matches_the_cassandra_cluster() -> None:
    objects = manifests()
    config = objects["ConfigMap/fashion-classifier"]["data"]
    statefulset = objects["StatefulSet/cassandra"]
    env = {e["name"]: e.get("value") for e in container("StatefulSet/cassandra")["env"]}
    assert env["CASSANDRA_ENDPOINT_SNITCH"] == "GossipingPropertyFileSnitch"
    # NetworkTopologyStrategy:<dc>=<rf>: the data centre the nodes announce, RF = node count.
    strategy, _, options = config["CASSANDRA_REPLICATION"].partition(":")
    assert strategy == "NetworkTopologyStrategy"
    assert options == f"{env['CASSANDRA_DC']}={statefulset['spec']['replicas']}" == "dc1=3"
    assert config["CASSANDRA_CONSISTENCY"] == "LOCAL_QUORUM"


def test_app_and_seeds_reach_the_statefulset_pods_by_name() -> None:
    objects = manifests()
    statefulset = objects["StatefulSet/cassandra"]["spec"]
    headless = objects[f"Service/{statefulset['serviceName']}"]["spec"]
    assert headless["clusterIP"] == "None"
    pods = {f"cassandra-{k}.{statefulset['serviceName']}" for k in range(statefulset["replicas"])}
    url = objects["ConfigMap/fashion-classifier"]["data"]["DATABASE_URL"]
    hosts = url.removeprefix("cassandra://").split("/")[0].rsplit(":", 1)[0].split(",")
    assert set(hosts) == pods
    env = {e["name"]: e.get("value") for e in container("StatefulSet/cassandra")["env"]}
    assert set(env["CASSANDRA_SEEDS"].split(",")) < pods


def test_cassandra_nodes_keep_their_data_and_report_readiness_by_query() -> None:
    statefulset = manifests()["StatefulSet/cassandra"]["spec"]
    (claim,) = statefulset["volumeClaimTemplates"]
    cassandra = container("StatefulSet/cassandra")
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/cassandra"} in cassandra["volumeMounts"]
    readiness = " ".join(cassandra["readinessProbe"]["exec"]["command"])
    assert "cqlsh" in readiness or "nodetool" in readiness
