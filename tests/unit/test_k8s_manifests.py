"""deploy/k8s: every manifest parses, workloads select their own pods, Services select a
workload, every UTRS_* variable is a setting that validates, the API listening beyond
loopback has keys (it would refuse to start otherwise), probes name real endpoints, and
workers get the node's Docker socket and time to finish a chunk."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from service.api.keys import check_exposure
from service.settings import Settings
from tests.support.paths import ROOT

K8S = ROOT / "deploy" / "k8s"
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet"}


def _docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    return containers


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _by_name(name: str) -> dict[str, Any]:
    return next(d for d in _docs() if d["metadata"]["name"] == name and d["kind"] in WORKLOADS)


def test_manifests_parse_into_the_expected_objects() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in _docs())
    assert kinds == [("DaemonSet", "utrs-worker"), ("Deployment", "utrs-api"), ("Namespace", "utrs"),
                     ("Service", "utrs-api"), ("Service", "utrs-redis"), ("StatefulSet", "utrs-redis")]  # fmt: skip
    assert {d["metadata"].get("namespace", "utrs") for d in _docs() if d["kind"] != "Namespace"} == {"utrs"}


@pytest.mark.parametrize("name", ["utrs-api", "utrs-worker", "utrs-redis"])
def test_workloads_select_their_pods(name: str) -> None:
    doc = _by_name(name)
    labels = doc["spec"]["template"]["metadata"]["labels"]
    assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert all(c["image"] for c in _containers(doc))


def test_services_select_a_workload() -> None:
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in _docs() if d["kind"] in WORKLOADS]
    for service in (d for d in _docs() if d["kind"] == "Service"):
        assert any(service["spec"]["selector"].items() <= labels.items() for labels in pods), service


@pytest.mark.parametrize("name", ["utrs-api", "utrs-worker"])
def test_settings_are_real_and_validate(name: str) -> None:
    env = _env(_containers(_by_name(name))[0])
    fields = {k.removeprefix("UTRS_").lower(): v for k, v in env.items() if k.startswith("UTRS_")}
    assert set(fields) <= set(Settings.model_fields), set(fields) - set(Settings.model_fields)
    Settings(**fields)  # type: ignore[arg-type]


def test_the_api_listens_beyond_loopback_only_with_keys() -> None:
    (api,) = _containers(_by_name("utrs-api"))
    host = api["command"][api["command"].index("--host") + 1]
    env = _env(api)
    settings = Settings(api_keys_file=env.get("UTRS_API_KEYS_FILE"), api_open=env.get("UTRS_API_OPEN") == "true")
    check_exposure(host, settings)  # raises if it would refuse to start
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_workers_get_the_docker_socket_and_time_to_finish_a_chunk() -> None:
    worker = _by_name("utrs-worker")
    spec = worker["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"] == ["python", "-m", "service.worker"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volume = next(v for v in spec["volumes"] if v["name"] == mounts["/var/run/docker.sock"])
    assert volume["hostPath"] == {"path": "/var/run/docker.sock", "type": "Socket"}
    assert spec["terminationGracePeriodSeconds"] >= Settings().job_timeout_s


def test_redis_runs_with_noeviction_and_aof() -> None:
    (redis,) = _containers(_by_name("utrs-redis"))
    args = redis["command"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert args[args.index("--appendonly") + 1] == "yes"
