"""Renders the kustomize manifests in deploy/ and checks them offline."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

Manifest = dict[str, Any]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RENDERS = {
    "base": DEPLOY / "base",
    "otlp": DEPLOY / "overlays" / "otlp-example",
}
SECRET_EXAMPLE = DEPLOY / "secret.example.yaml"

# The schemas the validator checks against; it answers with the version it used.
KUBERNETES_VERSION = "1.33"

IMAGE = "hiddenwars/backend:0.1.0"
CONFIG_MAP = "hiddenwars-config"
SECRET = "hiddenwars-db"
MIGRATE_JOB = "hiddenwars-migrate"
OTLP_ENDPOINT = "http://otel-collector:4317"

GRPC_PORTS = {"player": 50051, "nodes": 50052, "hacks": 50053, "scheduler": 50054}
PROCESSES = (*GRPC_PORTS, "gateway")
COMMANDS = {
    **{name: ["python", "-m", f"services.{name}"] for name in GRPC_PORTS},
    "gateway": ["python", "-m", "gateway"],
}

# What every gRPC service reads (services/common/config.py), then each process.
SHARED_GRPC_VARIABLES = frozenset(
    {
        "HW_GRPC_HOST",
        "HW_GRPC_PORT",
        "HW_DATABASE_URL",
        "HW_REDIS_URL",
        "HW_REDIS_PREFIX",
        "HW_SHUTDOWN_GRACE",
        "HW_RPC_TIMEOUT",
        "HW_LOG_LEVEL",
    }
)
PROCESS_VARIABLES = {
    "player": SHARED_GRPC_VARIABLES | {"HW_NODES_ADDRESS", "HW_STARTING_CREDITS"},
    "nodes": SHARED_GRPC_VARIABLES | {"HW_PLAYER_ADDRESS"},
    "hacks": SHARED_GRPC_VARIABLES,
    "scheduler": SHARED_GRPC_VARIABLES | {"HW_PLAYER_ADDRESS", "HW_NODES_ADDRESS"},
    "gateway": frozenset(
        {
            "HW_HTTP_HOST",
            "HW_HTTP_PORT",
            "HW_PLAYER_ADDRESS",
            "HW_NODES_ADDRESS",
            "HW_HACKS_ADDRESS",
            "HW_BACKEND_TIMEOUT",
            "HW_LOG_LEVEL",
        }
    ),
}
# The provisioning step of the migrate Job (services/common/provision.py).
PROVISION_VARIABLES = frozenset(
    {
        "HW_ADMIN_DATABASE_URL",
        "HW_DATABASE_NAME",
        "HW_ROLE_PREFIX",
        *(f"HW_ROLE_PASSWORD_{name.upper()}" for name in GRPC_PORTS),
    }
)
KNOWN_HW_VARIABLES = frozenset().union(*PROCESS_VARIABLES.values()) | (
    PROVISION_VARIABLES
)


def render(directory: Path) -> list[Manifest]:
    """Run `kubectl kustomize` on a directory and parse the documents it prints."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Manifest]]:
    return {name: render(directory) for name, directory in RENDERS.items()}


@pytest.fixture(scope="module")
def base(rendered: dict[str, list[Manifest]]) -> list[Manifest]:
    return rendered["base"]


@pytest.fixture(scope="module")
def secret_example() -> Manifest:
    documents = [d for d in yaml.safe_load_all(SECRET_EXAMPLE.read_text()) if d]
    assert len(documents) == 1
    document: Manifest = documents[0]
    return document


def objects(documents: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def workloads(documents: list[Manifest]) -> dict[str, Manifest]:
    return {**objects(documents, "Deployment"), **objects(documents, "Job")}


def containers(workload: Manifest) -> Iterator[Manifest]:
    spec = workload["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def main_container(deployment: Manifest) -> Manifest:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result: Manifest = container
    return result


def env(container: Manifest) -> dict[str, Manifest]:
    entries = container.get("env", [])
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"{container['name']}: duplicate env"
    return {entry["name"]: entry for entry in entries}


def config(documents: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = objects(documents, "ConfigMap")[CONFIG_MAP]["data"]
    return data


@pytest.mark.parametrize("render_name", list(RENDERS))
def test_every_rendered_document_is_valid_against_the_strict_kubernetes_schema(
    rendered: dict[str, list[Manifest]], render_name: str
) -> None:
    problems = []
    for document in rendered[render_name]:
        what = f"{document['kind']}/{document['metadata']['name']}"
        try:
            used = kubernetes_validate.validate(
                document, KUBERNETES_VERSION, strict=True
            )
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            problems.append(f"{what}: {path}: {error.message}")
        else:
            assert used == KUBERNETES_VERSION, what
    assert not problems, "\n".join(problems)


def test_the_strict_validator_rejects_a_misspelt_field(base: list[Manifest]) -> None:
    deployment = copy.deepcopy(objects(base, "Deployment")["player"])
    main_container(deployment)["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_example_secret_is_valid_but_not_part_of_the_base(
    base: list[Manifest], secret_example: Manifest
) -> None:
    kubernetes_validate.validate(secret_example, KUBERNETES_VERSION, strict=True)
    assert secret_example["metadata"]["name"] == SECRET
    assert objects(base, "Secret") == {}
    kustomization = yaml.safe_load((RENDERS["base"] / "kustomization.yaml").read_text())
    assert SECRET_EXAMPLE.name not in str(kustomization)


def test_the_base_holds_exactly_the_expected_objects(base: list[Manifest]) -> None:
    found = sorted((d["kind"], d["metadata"]["name"]) for d in base)
    expected = sorted(
        [
            ("ConfigMap", CONFIG_MAP),
            ("Job", MIGRATE_JOB),
            ("ServiceAccount", MIGRATE_JOB),
            *(
                (kind, name)
                for name in PROCESSES
                for kind in ("ServiceAccount", "Deployment", "Service")
            ),
        ]
    )
    assert found == expected


def test_every_workload_runs_as_non_root_with_a_locked_down_container(
    base: list[Manifest],
) -> None:
    for name, workload in workloads(base).items():
        pod = workload["spec"]["template"]["spec"]
        for container in containers(workload):
            what = f"{name}/{container['name']}"
            # A container's own settings win over the pod's.
            context = {**pod.get("securityContext", {})}
            context.update(container.get("securityContext", {}))
            assert context.get("runAsNonRoot") is True, what
            assert context.get("runAsUser") == 10001, what
            assert context.get("readOnlyRootFilesystem") is True, what
            assert context.get("allowPrivilegeEscalation") is False, what
            assert context.get("capabilities", {}).get("drop") == ["ALL"], what
            assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, what


def test_every_container_has_cpu_and_memory_requests_and_limits(
    base: list[Manifest],
) -> None:
    for name, workload in workloads(base).items():
        for container in containers(workload):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert set(resources.get(bound, {})) == {"cpu", "memory"}, (
                    f"{name}/{container['name']}: {bound}"
                )


def test_grpc_services_are_ready_by_grpc_health_and_alive_by_their_port(
    base: list[Manifest],
) -> None:
    deployments = objects(base, "Deployment")
    for name, port in GRPC_PORTS.items():
        container = main_container(deployments[name])
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        assert container["readinessProbe"]["grpc"]["port"] == port, name
        # Health follows PostgreSQL; an outage must not restart every pod.
        assert container["livenessProbe"]["tcpSocket"]["port"] == port, name


def test_the_gateway_is_ready_on_healthz_and_alive_while_its_port_accepts(
    base: list[Manifest],
) -> None:
    container = main_container(objects(base, "Deployment")["gateway"])
    assert container["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    ]
    ready = container["readinessProbe"]["httpGet"]
    assert (ready["path"], ready["port"]) == ("/v1/healthz", "http")
    assert container["livenessProbe"]["tcpSocket"]["port"] in ("http", 8080)


def test_every_container_runs_the_backend_image_with_its_command(
    base: list[Manifest],
) -> None:
    deployments = objects(base, "Deployment")
    for name, command in COMMANDS.items():
        container = main_container(deployments[name])
        assert container["command"] == command, name
    for name, workload in workloads(base).items():
        for container in containers(workload):
            assert container["image"] == IMAGE, f"{name}/{container['name']}"
            assert container["workingDir"] == "/app", f"{name}/{container['name']}"


def test_every_hw_variable_a_container_reads_is_a_known_setting(
    base: list[Manifest],
) -> None:
    for name, workload in workloads(base).items():
        for container in containers(workload):
            unknown = {
                variable
                for variable in env(container)
                if variable.startswith("HW_") and variable not in KNOWN_HW_VARIABLES
            }
            assert not unknown, f"{name}/{container['name']}: {sorted(unknown)}"
            assert "envFrom" not in container, "list variables by name instead"


def test_each_process_gets_exactly_the_hw_variables_it_reads(
    base: list[Manifest],
) -> None:
    deployments = objects(base, "Deployment")
    for name, expected in PROCESS_VARIABLES.items():
        variables = env(main_container(deployments[name]))
        assert {v for v in variables if v.startswith("HW_")} == expected, name
        if name in GRPC_PORTS:
            assert variables["HW_GRPC_PORT"]["value"] == str(GRPC_PORTS[name])


def test_every_config_map_and_secret_reference_resolves(
    base: list[Manifest], secret_example: Manifest
) -> None:
    config_keys = set(config(base))
    secret_keys = set(secret_example["stringData"])
    for name, workload in workloads(base).items():
        for container in containers(workload):
            for variable, entry in env(container).items():
                what = f"{name}/{container['name']}: {variable}"
                source = entry.get("valueFrom", {})
                if "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    assert ref["name"] == CONFIG_MAP, what
                    assert ref["key"] in config_keys, what
                elif "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    assert ref["name"] == SECRET, what
                    assert ref["key"] in secret_keys, what


def test_each_grpc_service_logs_in_to_postgres_as_its_own_role(
    base: list[Manifest], secret_example: Manifest
) -> None:
    deployments = objects(base, "Deployment")
    for name in GRPC_PORTS:
        entry = env(main_container(deployments[name]))["HW_DATABASE_URL"]
        key = entry["valueFrom"]["secretKeyRef"]["key"]
        assert key == f"{name}-database-url"
        url = urlsplit(secret_example["stringData"][key])
        assert (url.username, url.path) == (f"hw_{name}", "/hiddenwars")
        password = secret_example["stringData"][f"{name}-role-password"]
        assert url.password == password, "the URL and role password must agree"
    assert "HW_DATABASE_URL" not in env(main_container(deployments["gateway"]))


def test_every_deployment_has_a_cluster_ip_service_that_selects_its_pods(
    base: list[Manifest],
) -> None:
    services = objects(base, "Service")
    for name, deployment in objects(base, "Deployment").items():
        assert name in services, f"no Service for {name}"
        spec = services[name]["spec"]
        assert spec.get("type", "ClusterIP") == "ClusterIP", name
        # gRPC services are headless so that callers balance per call; the
        # gateway keeps a virtual IP for its ingress.
        headless = spec.get("clusterIP") == "None"
        assert headless == (name in GRPC_PORTS), name
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"].items() <= pod_labels.items(), name
        assert deployment["spec"]["selector"]["matchLabels"] == spec["selector"]
        ports = main_container(deployment)["ports"]
        for port in spec["ports"]:
            target = port.get("targetPort", port["port"])
            targets = {p["containerPort"] for p in ports} | {p["name"] for p in ports}
            assert target in targets, f"{name}: targetPort {target}"
            assert port["port"] == GRPC_PORTS.get(name, 8080), name


def test_every_workload_has_its_own_service_account_without_an_api_token(
    base: list[Manifest],
) -> None:
    accounts = objects(base, "ServiceAccount")
    used = []
    for name, workload in workloads(base).items():
        pod = workload["spec"]["template"]["spec"]
        account = pod["serviceAccountName"]
        used.append(account)
        assert accounts[account]["automountServiceAccountToken"] is False, name
        assert pod.get("automountServiceAccountToken", False) is False, name
    assert sorted(used) == sorted(set(used)) == sorted(accounts)


def test_pods_get_longer_to_stop_than_the_configured_shutdown_grace(
    base: list[Manifest],
) -> None:
    grace = float(config(base)["HW_SHUTDOWN_GRACE"])
    for name, deployment in objects(base, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > grace, name


def test_every_container_writes_only_to_an_empty_dir_at_tmp(
    base: list[Manifest],
) -> None:
    for name, workload in workloads(base).items():
        volumes = {
            v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]
        }
        for container in containers(workload):
            mounts = container["volumeMounts"]
            assert [m["mountPath"] for m in mounts] == ["/tmp"], name
            assert "emptyDir" in volumes[mounts[0]["name"]], name


def test_every_object_carries_its_name_and_part_of_labels(
    base: list[Manifest],
) -> None:
    labelled = [d["metadata"] for d in base]
    labelled += [w["spec"]["template"]["metadata"] for w in workloads(base).values()]
    for metadata in labelled:
        labels = metadata.get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "hiddenwars", metadata
        assert labels.get("app.kubernetes.io/name"), metadata


def test_the_scheduler_runs_two_replicas_and_the_others_one(
    base: list[Manifest],
) -> None:
    replicas = {
        n: d["spec"]["replicas"] for n, d in objects(base, "Deployment").items()
    }
    assert replicas == {name: 2 if name == "scheduler" else 1 for name in PROCESSES}


def test_the_migrate_job_provisions_first_then_migrates_each_service(
    base: list[Manifest],
) -> None:
    job = objects(base, "Job")[MIGRATE_JOB]
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    pod = job["spec"]["template"]["spec"]
    provision, *migrations = pod["initContainers"]

    assert provision["command"] == ["python", "-m", "services.common.provision"]
    variables = env(provision)
    assert set(variables) == PROVISION_VARIABLES
    assert variables["HW_DATABASE_NAME"]["value"] == "hiddenwars"
    assert variables["HW_ROLE_PREFIX"]["value"] == "hw_"
    admin = variables["HW_ADMIN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert admin == {"name": SECRET, "key": "admin-database-url"}

    assert [m["command"][-1] for m in migrations] == list(GRPC_PORTS)
    for service, migration in zip(GRPC_PORTS, migrations, strict=True):
        assert migration["command"] == [
            "python",
            "-m",
            "services.common.migrate",
            service,
        ]
        url = env(migration)["HW_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert url == {"name": SECRET, "key": f"{service}-database-url"}

    (done,) = pod["containers"]
    assert done["command"][:2] == ["python", "-c"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")


def test_tracing_exports_only_when_the_otlp_component_is_added(
    rendered: dict[str, list[Manifest]],
) -> None:
    base, otlp = rendered["base"], rendered["otlp"]
    for name, deployment in objects(base, "Deployment").items():
        variables = env(main_container(deployment))
        assert variables["OTEL_SERVICE_NAME"]["value"] == name
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in variables, name
    for name, deployment in objects(otlp, "Deployment").items():
        variables = env(main_container(deployment))
        endpoint = variables["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == {
            "name": "OTEL_EXPORTER_OTLP_ENDPOINT",
            "value": OTLP_ENDPOINT,
        }
        assert variables["OTEL_SERVICE_NAME"]["value"] == name


def test_the_otlp_component_changes_nothing_but_the_endpoint(
    rendered: dict[str, list[Manifest]],
) -> None:
    stripped = copy.deepcopy(rendered["otlp"])
    for deployment in objects(stripped, "Deployment").values():
        container = main_container(deployment)
        container["env"] = [
            e for e in container["env"] if e["name"] != "OTEL_EXPORTER_OTLP_ENDPOINT"
        ]

    def key(document: Manifest) -> tuple[str, str]:
        return document["kind"], document["metadata"]["name"]

    assert sorted(stripped, key=key) == sorted(rendered["base"], key=key)
