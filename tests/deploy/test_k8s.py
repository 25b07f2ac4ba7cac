"""k8s/: every manifest is valid against the bundled Kubernetes schemas (no cluster), the
kustomization lists every file, and the pieces reference each other consistently."""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
MANIFESTS = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _documents() -> list[dict]:
    docs = []
    for name in MANIFESTS:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


DOCS = _documents()


def _one(kind: str, name: str) -> dict:
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_kustomization_lists_every_manifest_exactly_once():
    resources = KUSTOMIZATION["resources"]
    assert len(resources) == len(set(resources))
    assert sorted(resources) == MANIFESTS


# the oldest release still commonly run, and the newest the validator knows
VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_valid_against_the_kubernetes_schema(name, version):
    for doc in yaml.safe_load_all((K8S / name).read_text()):
        if doc:
            # strict: unknown fields (typos) are errors too
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "three", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_every_required_piece_is_there():
    kinds = {(d["apiVersion"], d["kind"]) for d in DOCS}
    assert {
        ("v1", "Namespace"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "Job"),
        ("networking.k8s.io/v1", "Ingress"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
    } <= kinds
    assert all(d["metadata"].get("namespace", "ccr") == "ccr" for d in DOCS)


def test_app_deployment_runs_three_non_root_pods_with_probes_and_a_prestop_sleep():
    app = _one("Deployment", "ccr-app")
    assert app["spec"]["replicas"] == 3
    pod = _pod_spec(app)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert "command" not in container and "args" not in container  # the image's gunicorn CMD
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CCR_OUTBOX_DISPATCHER"] == "external"
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] > sleep + int(env["GUNICORN_GRACEFUL_TIMEOUT"])


def test_worker_and_migration_run_the_flask_commands():
    worker = _pod_spec(_one("Deployment", "ccr-worker"))["containers"][0]
    assert worker["args"] == ["flask", "ccr", "worker"]
    job = _pod_spec(_one("Job", "ccr-migrate"))["containers"][0]
    assert job["args"] == ["flask", "db", "upgrade"]


def test_services_select_the_pods_they_serve():
    workloads = [d for d in DOCS if d["kind"] in ("Deployment", "StatefulSet")]
    for service in (d for d in DOCS if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        served = [
            w for w in workloads if _matches(selector, w["spec"]["template"]["metadata"]["labels"])
        ]
        assert served, f"Service {service['metadata']['name']} selects no pods"
        for port in service["spec"]["ports"]:
            names = {
                p.get("name")
                for w in served
                for c in _pod_spec(w)["containers"]
                for p in c.get("ports", [])
            }
            assert port["targetPort"] in names
    postgres = _one("StatefulSet", "postgres")
    assert _one("Service", postgres["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    assert postgres["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_hpa_and_pdb_target_the_app():
    hpa = _one("HorizontalPodAutoscaler", "ccr-app")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ccr-app"
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = _one("PodDisruptionBudget", "ccr-app")
    app_labels = _one("Deployment", "ccr-app")["spec"]["template"]["metadata"]["labels"]
    assert _matches(pdb["spec"]["selector"]["matchLabels"], app_labels)


def test_ingress_keeps_sessions_sticky_and_websockets_open():
    ingress = _one("Ingress", "ccr")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert _one("Service", backend["name"])


def test_config_and_secret_references_resolve_and_name_real_settings():
    names = {(d["kind"], d["metadata"]["name"]) for d in DOCS}
    for workload in (d for d in DOCS if d["kind"] in ("Deployment", "StatefulSet", "Job")):
        for container in _pod_spec(workload)["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in names
    # every key is read somewhere: no typo silently ignored
    code = "\n".join(
        p.read_text()
        for p in [*ROOT.glob("ccr/**/*.py"), ROOT / "gunicorn.conf.py", *ROOT.glob("docker/*")]
    )
    config = _one("ConfigMap", "ccr-config")["data"]
    secret = _one("Secret", "ccr-secrets")["stringData"]
    for key in [*config, *secret]:
        if key != "POSTGRES_PASSWORD":  # read by the postgres container
            assert re.search(rf"\b{key}\b", code), f"{key} is not read by the app"


def test_example_secret_holds_placeholders_only():
    secret = _one("Secret", "ccr-secrets")
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        assert "change-me" in value, key
    assert len(secret["stringData"]["SECRET_KEY"]) < 32  # production config refuses it
