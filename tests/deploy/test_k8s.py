"""The Kubernetes manifests as a cluster would get them: `kubectl kustomize` renders the
example overlay (and the base), `kubernetes-validate --strict` checks them against the
API schemas, checkov against its policies (skips only as listed, with reasons, in
deploy/k8s/checkov-skips.yaml), and the tests below state what the deployment promises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import DEPLOY, ROOT, venv_tool
from worker.ingress import openapi
from worker.roles.registry import ROLES

K8S = DEPLOY / "k8s"
OVERLAY = K8S / "overlays" / "example"
SKIPS: dict[str, str] = yaml.safe_load((K8S / "checkov-skips.yaml").read_text())
OPS_PORT = 8081
#: the keys of the postino-secrets Secret (docs/operators/install.md)
SECRET_KEYS = ("DATABASE_URL", "ADMIN_TOKEN", "ID_SECRET", "SMTP_URL")
HTTP_DRAIN_SECONDS = 60  # aiohttp's AppRunner waits up to this for requests in flight
#: routes for operators only: never on the public Ingress
OPERATOR_ONLY = (
    "/api/v1/admin",
    "/api/v1/manage/profiles",
    "/status",
    "/api/v1/status",
    "/metrics",
    "/healthz",
    "/readyz",
)


@dataclass
class Rendered:
    path: Path
    docs: list[dict[str, Any]]
    checkov: subprocess.Popen[str]

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]


def _kustomize(folder: Path, out: Path) -> list[dict[str, Any]]:
    done = subprocess.run(  # noqa: S603 - our own kubectl, our own files
        [venv_tool("kubectl"), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out.write_text(done.stdout)
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    out = tmp_path_factory.mktemp("k8s") / "example.yaml"
    docs = _kustomize(OVERLAY, out)
    # checkov takes seconds to import: it runs in the background while the other checks do
    checkov = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(Path(__file__).parent / "checkov_k8s.py"), str(out), ",".join(SKIPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        yield Rendered(out, docs, checkov)
    finally:
        if checkov.poll() is None:
            checkov.kill()
        checkov.communicate()


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _workloads(rendered: Rendered) -> list[dict[str, Any]]:
    """Every object that runs pods: the roles' Deployments and the release Job."""
    return [*rendered.kind("Deployment"), *rendered.kind("Job")]


def _deployment(rendered: Rendered, role: str) -> dict[str, Any]:
    [found] = [d for d in rendered.kind("Deployment") if d["metadata"]["name"] == f"postino-{role}"]
    return found


@pytest.mark.parametrize("folder", [OVERLAY, K8S / "base"], ids=["overlay", "base"])
def test_the_manifests_are_valid_kubernetes_objects(
    folder: Path, rendered: Rendered, tmp_path: Path
) -> None:
    path = rendered.path
    if folder != OVERLAY:
        path = tmp_path / "base.yaml"
        _kustomize(folder, path)
    done = subprocess.run(  # noqa: S603 - our own tool, our own files
        [venv_tool("kubernetes-validate"), "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_secrets_are_referenced_never_written_and_reach_the_pods_as_files(
    rendered: Rendered,
) -> None:
    assert rendered.kind("Secret") == []
    [config] = rendered.kind("ConfigMap")
    files = {k: v for k, v in config["data"].items() if k.endswith("_FILE")}
    assert set(files) == {f"POSTINO_{n}_FILE" for n in SECRET_KEYS}
    assert not set(config["data"]) & {f"POSTINO_{n}" for n in SECRET_KEYS}
    for deployment in _workloads(rendered):
        pod = deployment["spec"]["template"]["spec"]
        [volume] = [v for v in pod["volumes"] if "secret" in v]
        assert volume["secret"]["secretName"] == "postino-secrets"
        for container in _containers(deployment):
            assert "env" not in container
            assert all("secretRef" not in source for source in container["envFrom"])
            [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
            assert mount["readOnly"] is True
            for name in SECRET_KEYS:
                assert files[f"POSTINO_{name}_FILE"] == f"{mount['mountPath']}/POSTINO_{name}"


def test_every_container_runs_locked_down_from_the_overlay_image(rendered: Rendered) -> None:
    for deployment in _workloads(rendered):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in _containers(deployment):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert isinstance(sc["runAsUser"], int) and sc["runAsUser"] >= 10000
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert container["image"] == "registry.example.org/pagopa/postino:0.1.0"
            assert set(container["resources"]) == {"requests", "limits"}
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_role_is_probed_on_its_ops_port_and_leaves_setup_to_the_release_job(
    role: str, rendered: Rendered
) -> None:
    deployment = _deployment(rendered, role)
    spec = deployment["spec"]["template"]["spec"]
    [main] = spec["containers"]
    ops = {p["name"]: p["containerPort"] for p in main["ports"]}["ops"]

    assert ops == OPS_PORT
    assert main["args"] == [role]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert "initContainers" not in spec  # no topic-admin or DDL rights in a role's pod
    zones = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert zones == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    selector = deployment["spec"]["selector"]["matchLabels"]
    budgets = [
        p
        for p in rendered.kind("PodDisruptionBudget")
        if p["spec"]["selector"]["matchLabels"] == selector
    ]
    assert [b["spec"]["maxUnavailable"] for b in budgets] == [1]


def test_one_release_job_migrates_then_applies_the_topics_and_ends(rendered: Rendered) -> None:
    [job] = rendered.kind("Job")
    spec = job["spec"]["template"]["spec"]
    steps = [(c["name"], c["args"]) for c in _containers(job)]
    assert steps == [("migrate", ["migrate"]), ("topics", ["topics"])]
    assert spec["restartPolicy"] == "OnFailure"
    assert job["spec"]["backoffLimit"] > 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_the_ingress_leaves_the_load_balancer_before_it_stops_listening(
    rendered: Rendered,
) -> None:
    spec = _deployment(rendered, "ingress")["spec"]["template"]["spec"]
    [main] = spec["containers"]
    command = main["lifecycle"]["preStop"]["exec"]["command"]

    assert command[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] > int(command[1]) + HTTP_DRAIN_SECONDS


def test_ops_ports_are_reachable_from_monitoring_only_and_the_api_from_the_controller(
    rendered: Rendered,
) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in rendered.kind("NetworkPolicy")}
    deny = policies["postino-default-deny-ingress"]
    assert deny["podSelector"] == {} and "ingress" not in deny

    allowed = {
        (
            rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            port["port"],
        )
        for spec in policies.values()
        for rule in spec.get("ingress", [])
        for port in rule["ports"]
    }
    assert allowed == {("monitoring", OPS_PORT), ("ingress-nginx", 8080)}
    services = rendered.kind("Service")
    assert [p["targetPort"] for s in services for p in s["spec"]["ports"]] == ["http"]


def test_the_public_ingress_routes_the_apis_and_never_the_operator_routes(
    rendered: Rendered,
) -> None:
    [ingress] = rendered.kind("Ingress")
    paths = [
        (p["path"], p["pathType"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]

    def public(route: str) -> bool:
        return any(
            route == path or (kind == "Prefix" and route.startswith(path.rstrip("/") + "/"))
            for path, kind in paths
        )

    import worker.ingress.app  # noqa: F401 - every route declares itself on import

    for op in openapi.operations():
        operator_only = op.path.startswith(OPERATOR_ONLY)
        assert public(op.path) != operator_only, f"{op.method} {op.path}: public or operator?"
    assert ingress["spec"]["tls"][0]["secretName"] == "postino-tls"


# last: checkov has been running in the background since the fixture started it
def test_checkov_finds_nothing_beyond_the_listed_skips(rendered: Rendered) -> None:
    assert all(reason.strip() for reason in SKIPS.values()), "every skip needs its reason"
    out, err = rendered.checkov.communicate(timeout=300)
    assert rendered.checkov.returncode == 0, err
    report = json.loads(out)

    assert report["failed"] == []
    assert report["passed"] > 100
