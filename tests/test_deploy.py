"""The platform's own deployment files are valid: the compose file, the NATS configs and the
Kubernetes manifests (parsed and checked here: no cluster runs on these machines)."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from genfleet_common.composebin import compose_binary
from genfleet_common.identities import AUTH_CONF, Identity, authorization_conf, ensure_identities
from genfleet_common.natsserver import nats_server_binary
from genfleet_common.settings import load_settings
from genfleet_common.testing import make_tls

REPO = Path(__file__).resolve().parents[1]
SERVICES = {"container_svc", "scan_svc", "perf_svc", "ai_svc", "campaign_svc", "gateway"}


def test_the_platform_compose_file_is_valid_and_needs_a_secret() -> None:
    env = {**os.environ, "GENFLEET_SECRET_KEY": "x" * 32}
    ok = subprocess.run(
        [compose_binary(), "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    env.pop("GENFLEET_SECRET_KEY")
    refused = subprocess.run(
        [compose_binary(), "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "GENFLEET_SECRET_KEY" in refused.stderr  # no default key
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    modules = {s["command"][2] for s in services.values() if s["command"][:2] == ["python", "-m"]}
    assert modules == SERVICES


def test_each_compose_service_gets_its_own_nats_identity_and_no_other() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    seeds = {name: entry["file"] for name, entry in compose["secrets"].items()}
    for name, service in compose["services"].items():
        if name == "nats":
            (auth,) = service["secrets"]
            assert auth["target"] == "/etc/nats/auth/auth.conf"
            assert seeds[auth["source"]].endswith(f"/{AUTH_CONF}")
            continue
        (secret,) = service["secrets"]  # its own, alone
        assert seeds[secret["source"]].endswith(f"/{Identity(name).value}.seed"), name
        assert secret["target"] == "nats-seed"
    assert compose["x-service"]["environment"]["GENFLEET_NATS_SEED_FILE"] == (
        "/run/secrets/nats-seed"
    )


def resolved_services() -> dict[str, Any]:
    """The platform compose file's services as compose resolves them (`config`)."""
    config = subprocess.run(
        [compose_binary(), "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
        env={**os.environ, "GENFLEET_SECRET_KEY": "x" * 32},
        capture_output=True,
        text=True,
        check=True,
    )
    services: dict[str, Any] = json.loads(config.stdout)["services"]
    return services


def test_container_svc_runs_in_the_hosts_pid_namespace_and_network_and_reaches_nats() -> None:
    """It reads the apps' processes in the host's /proc and probes the ports they publish on
    the host's 127.0.0.1: both need the host's namespaces (the resolved compose file)."""
    services = resolved_services()
    svc = services["container-svc"]
    assert svc["pid"] == "host" and svc["network_mode"] == "host"
    assert "/var/run/docker.sock" in {v["target"] for v in svc["volumes"]}
    # On the host's network, NATS is its port published on the host's loopback; elsewhere
    # its name on the compose network
    (nats_port,) = services["nats"]["ports"]
    assert (nats_port["host_ip"], nats_port["published"]) == ("127.0.0.1", "4222")
    for name, service in services.items():
        url = service.get("environment", {}).get("GENFLEET_NATS_URL")
        if url is not None:
            on_host = service.get("network_mode") == "host"
            assert url == ("nats://127.0.0.1:4222" if on_host else "nats://nats:4222"), name


def test_the_platform_publishes_nothing_an_app_container_can_reach() -> None:
    """Apps run in their own compose projects, each on its own bridge network (an app that
    would join another network, the host's or a container's is never started: fleet
    hostaccess). What the platform publishes is on the host's loopback only, which no
    bridge network reaches (tests/test_supervision.py checks that from a real app container
    under `genfleet up`); its services on the host's network listen on no public address."""
    services = resolved_services()
    published = [(n, p) for n, s in services.items() for p in s.get("ports", [])]
    assert published, "NATS and the gateway are published for the host's own clients"
    for name, port in published:
        assert port.get("host_ip") == "127.0.0.1", (name, port)
    for name, service in services.items():
        if service.get("network_mode") == "host":  # its metrics, if any, on the loopback
            host = service.get("environment", {}).get("GENFLEET_METRICS_HOST", "127.0.0.1")
            assert host == "127.0.0.1", name
            assert "GENFLEET_HOST" not in service.get("environment", {}), name


def installed_config(text: str, etc: Path) -> Path:
    """A deployment's nats.conf as installed in `etc` (its /etc/nats): beside it the
    generated authorization (`genfleet nats-identities`) and TLS files (scripts/make-ca.sh)."""
    if not (etc / "auth" / AUTH_CONF).exists():
        keys = ensure_identities(etc / "auth")
        (etc / "auth" / AUTH_CONF).write_text(authorization_conf(keys))
        make_tls(etc / "tls")
    conf = etc / "nats.conf"
    conf.write_text(text.replace("/etc/nats/", f"{etc}/"))
    return conf


def check_config(conf: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [nats_server_binary(), "-c", str(conf), "-t"],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (conf, result.stderr)


def test_the_nats_configs_parse_and_take_only_genfleets_identities(tmp_path: Path) -> None:
    single = (REPO / "deploy/nats/nats.conf").read_text()
    cluster = [c.read_text() for c in sorted((REPO / "deploy/nats/cluster").glob("*.conf"))]
    assert len(cluster) == 3
    for text in [single, *cluster]:
        assert 'include "auth/auth.conf"' in text  # no anonymous client
        check_config(installed_config(text, tmp_path))
    for text in cluster:  # TLS for the clients and for the routes, which check both ways
        client_tls, route_tls = text.split("cluster {")
        assert "tls {" in client_tls and "cert_file" in client_tls
        assert "tls {" in route_tls and "verify: true" in route_tls


K8S = REPO / "deploy/k8s"


def k8s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def workloads() -> list[dict[str, Any]]:
    return [d for d in k8s_documents() if d["kind"] in ("Deployment", "StatefulSet")]


def test_the_kubernetes_manifests_run_every_service_with_the_secret_from_a_secret() -> None:
    docs = k8s_documents()
    assert all(d.get("apiVersion") and d["metadata"].get("name") for d in docs)
    modules = set()
    for workload in workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            command = container["command"]
            if command[:2] == ["python", "-m"]:
                modules.add(command[2])
                assert importlib.util.find_spec(command[2]) is not None, command
                secret = next(e for e in container["env"] if e["name"] == "GENFLEET_SECRET_KEY")
                assert "value" not in secret and secret["valueFrom"]["secretKeyRef"]  # no default
                # its own NATS identity, from its own Secret, where the ConfigMap says
                pod = workload["spec"]["template"]["spec"]
                volumes = {v["name"]: v for v in pod["volumes"]}
                identity = Identity(command[2].replace("_", "-"))
                assert volumes["nats-identity"]["secret"]["secretName"] == (
                    f"genfleet-nats-{identity.value}"
                )
                mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
                assert mounts["nats-identity"] == "/run/genfleet/nats"
    assert modules == SERVICES
    env = next(d for d in docs if d["metadata"]["name"] == "genfleet-env")["data"]
    assert "GENFLEET_SECRET_KEY" not in env and env["GENFLEET_NATS_REPLICAS"] == "3"
    assert env["GENFLEET_NATS_SEED_FILE"] == "/run/genfleet/nats/seed"
    assert env["GENFLEET_NATS_URL"].startswith("tls://") and env["GENFLEET_NATS_TLS_CA"]


def test_the_kubernetes_container_svc_runs_in_the_nodes_pid_namespace_and_network() -> None:
    svc = next(w for w in workloads() if w["metadata"]["name"] == "container-svc")
    pod = svc["spec"]["template"]["spec"]
    assert pod["hostPID"] is True and pod["hostNetwork"] is True
    assert svc["spec"]["replicas"] == 1 and svc["spec"]["strategy"]["type"] == "Recreate"
    # a pod on the node's network still finds `nats` (the ConfigMap's URL) by cluster DNS
    env = next(d for d in k8s_documents() if d["metadata"]["name"] == "genfleet-env")["data"]
    assert env["GENFLEET_NATS_URL"] == "tls://nats:4222"
    for workload in workloads():
        spec = workload["spec"]["template"]["spec"]
        if spec.get("hostNetwork"):
            assert spec["dnsPolicy"] == "ClusterFirstWithHostNet", workload["metadata"]["name"]


def test_the_kubernetes_nats_config_parses(tmp_path: Path) -> None:
    config = next(d for d in k8s_documents() if d["metadata"]["name"] == "nats-config")
    text = config["data"]["nats.conf"]
    nats = next(w for w in workloads() if w["metadata"]["name"] == "nats")
    assert nats["spec"]["replicas"] == 3
    check_config(installed_config(text, tmp_path), {"POD_NAME": "nats-0"})
    client_tls, route_tls = text.split("cluster {")
    assert "tls {" in client_tls and "verify: true" in route_tls
    # the authorization and the TLS files come from Secrets that make-secrets.sh makes
    pod = nats["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"genfleet-nats-auth", "genfleet-nats-tls"}
    script = (K8S / "make-secrets.sh").read_text()
    assert all(name in script for name in (*secrets, "genfleet-nats-ca", "genfleet-nats-$"))


def test_container_svc_starts_no_app_whose_networks_it_cannot_guard() -> None:
    """The network guard (container_svc/netguard.py, tested for real in container-svc's
    test_netguard) is required where GenFleet is deployed: container-svc gets the capability
    it needs, and in Kubernetes the cluster's ranges the apps may not reach."""
    svc = resolved_services()["container-svc"]
    assert svc["environment"]["GENFLEET_APPS_NETWORK_GUARD"] == "required"
    assert svc["cap_add"] == ["NET_ADMIN"]

    workload = next(w for w in workloads() if w["metadata"]["name"] == "container-svc")
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    settings = load_settings(
        {
            "GENFLEET_SECRET_KEY": "x",
            "GENFLEET_APPS_NETWORK_GUARD": env["GENFLEET_APPS_NETWORK_GUARD"],
            "GENFLEET_APPS_BLOCKED_NETWORKS": env["GENFLEET_APPS_BLOCKED_NETWORKS"],
        }
    )
    assert settings.apps_network_guard == "required"
    blocked = [ipaddress.ip_network(n) for n in settings.apps_blocked_networks]
    # kubeadm's default pod and Service ranges are among them
    for default in ("10.244.0.0/16", "10.96.0.0/12"):
        assert ipaddress.ip_network(default) in blocked
