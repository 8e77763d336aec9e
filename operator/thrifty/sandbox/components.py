"""Command lines of the sandbox's processes. Everything listens on loopback."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from thrifty.sandbox.build import Binaries
from thrifty.sandbox.pki import SERVICE_CLUSTER_IP_RANGE, Pki

# Ports are chosen free at start-up and kept in ports.json so `env` and restarts agree.
PORT_NAMES = (
    "etcd_client",
    "etcd_peer",
    "apiserver",
    "controller_manager",
    "scheduler",
    "kwok",
    "prometheus",
    "live_metrics",
)
# Chosen the first time a sandbox runs Karpenter, and kept in ports.json like the others.
KARPENTER_PORT_NAMES = ("karpenter_metrics", "karpenter_health")


@dataclass(frozen=True)
class Layout:
    """Files of one sandbox under its state directory."""

    state_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def ports_file(self) -> Path:
        return self.state_dir / "ports.json"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.state_dir / "etcd-data"

    @property
    def prometheus_data(self) -> Path:
        return self.state_dir / "prometheus-data"

    @property
    def prometheus_config(self) -> Path:
        return self.state_dir / "prometheus.yml"

    @property
    def karpenter_instance_types(self) -> Path:
        return self.state_dir / "karpenter-instance-types.json"


def etcd(bins: Binaries, layout: Layout, ports: dict[str, int]) -> list[str]:
    client = f"http://127.0.0.1:{ports['etcd_client']}"
    peer = f"http://127.0.0.1:{ports['etcd_peer']}"
    return [
        str(bins.etcd),
        "--name=sandbox",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sandbox={peer}",
        # A throw-away cluster: skipping fsync keeps it fast on slow disks.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def kube_apiserver(bins: Binaries, pki: Pki, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.kube_apiserver),
        f"--etcd-servers=http://127.0.0.1:{ports['etcd_client']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports['apiserver']}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-key-file={pki.service_account_pub}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        # Loopback cannot be an endpoint of the `kubernetes` Service; nothing in-cluster needs it.
        "--endpoint-reconciler-type=none",
    ]


def kube_controller_manager(bins: Binaries, layout: Layout, pki: Pki, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.kube_controller_manager),
        f"--kubeconfig={layout.kubeconfig}",
        f"--authentication-kubeconfig={layout.kubeconfig}",
        f"--authorization-kubeconfig={layout.kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports['controller_manager']}",
        f"--cert-dir={layout.state_dir / 'controller-manager-certs'}",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--leader-elect=false",
        "--use-service-account-credentials=false",
    ]


def kube_scheduler(bins: Binaries, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.kube_scheduler),
        f"--kubeconfig={layout.kubeconfig}",
        f"--authentication-kubeconfig={layout.kubeconfig}",
        f"--authorization-kubeconfig={layout.kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports['scheduler']}",
        f"--cert-dir={layout.state_dir / 'scheduler-certs'}",
        "--leader-elect=false",
    ]


def kwok(bins: Binaries, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.kwok),
        f"--kubeconfig={layout.kubeconfig}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--server-address=127.0.0.1:{ports['kwok']}",
        f"--config={bins.kwok_stages}",
    ]


def karpenter(binary: Path, layout: Layout, ports: dict[str, int]) -> list[str]:
    """Karpenter's KWOK provider; it reads KUBECONFIG from its environment (it has no flag for it).
    It listens on all interfaces: it has no flag for the address either."""
    return [
        str(binary),
        # One replica: a Lease would only delay the start.
        "--disable-leader-election",
        f"--metrics-port={ports['karpenter_metrics']}",
        f"--health-probe-port={ports['karpenter_health']}",
        f"--instance-types-file-path={layout.karpenter_instance_types}",
        "--log-level=info",
    ]


def live_metrics(layout: Layout, ports: dict[str, int]) -> list[str]:
    """The pods' live cAdvisor and kube-state-metrics series, served by this Python's `thrifty`."""
    return [
        sys.executable,
        "-m",
        "thrifty.cli",
        "sandbox",
        "live-metrics",
        f"--kubeconfig={layout.kubeconfig}",
        f"--port={ports['live_metrics']}",
    ]


def prometheus(
    executable: Path, layout: Layout, ports: dict[str, int], query_max_samples: int | None = None
) -> list[str]:
    """``query_max_samples``: Prometheus' ``--query.max-samples`` (default: its own, 50 million)."""
    limit = [] if query_max_samples is None else [f"--query.max-samples={query_max_samples}"]
    return [
        str(executable),
        *limit,
        f"--config.file={layout.prometheus_config}",
        f"--storage.tsdb.path={layout.prometheus_data}",
        # Backfilled history is weeks old when it goes in; keep it all.
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
    ]
