"""`thrifty sandbox up | env | down`: a real control plane and Prometheus on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml
from kubernetes import client, config

from thrifty.sandbox import components, processes
from thrifty.sandbox.build import (
    Binaries,
    Karpenter,
    ensure_binaries,
    ensure_cluster_api_crds,
    ensure_karpenter,
)
from thrifty.sandbox.components import KARPENTER_PORT_NAMES, Layout
from thrifty.sandbox.karpenter import write_instance_types
from thrifty.sandbox.nodes import ready_node_names, reconcile_nodes
from thrifty.sandbox.pki import Pki, ensure_pki
from thrifty.sandbox.prometheus import (
    ScrapeJob,
    ensure_prometheus,
    read_scrape_jobs,
    reload_prometheus,
    write_prometheus_config,
    write_scrape_jobs,
)
from thrifty.sandbox.readiness import NotReadyError, client_tls, free_ports, http_ok, wait_until
from thrifty.sandbox.third_party_crds import apply_crds

Progress = Callable[[str], None]

# Start order; `down` stops in reverse.
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
LIVE_METRICS = "live-metrics"
KARPENTER = "karpenter"
ALL_PROCESSES = (*CONTROL_PLANE, LIVE_METRICS, "prometheus")


class SandboxNotRunningError(RuntimeError):
    pass


@dataclass(frozen=True)
class SandboxEnv:
    state_dir: Path
    kubeconfig: Path
    prometheus_url: str
    bin_dirs: tuple[Path, ...]  # where the sandbox's kubectl and helm are

    def lines(self) -> list[str]:
        return [f"KUBECONFIG={self.kubeconfig}", f"PROMETHEUS_URL={self.prometheus_url}"]

    def path_with_tools(self, path: str) -> str:
        """PATH with the sandbox's kubectl and helm first, so they match the API server's version."""
        return ":".join([*map(str, self.bin_dirs), path])


def up(
    state_dir: Path,
    spot_nodes: int = 3,
    on_demand_nodes: int = 2,
    backfill: Sequence[Path] = (),
    progress: Progress = print,
    karpenter: bool = False,
) -> SandboxEnv:
    """Start everything (or keep what already runs) and return once nodes are Ready.

    With ``karpenter``, also Karpenter's KWOK provider, launching KWOK nodes for NodePools, and the
    CRDs of Karpenter and of Cluster API's MachineDeployment (no Cluster API controller runs)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    layout = Layout(state_dir)
    bins = ensure_binaries(progress)
    # Built before anything starts, so a failed build leaves the sandbox as it was.
    karpenter_build = ensure_karpenter(progress) if karpenter else None
    cluster_api_crds = ensure_cluster_api_crds(progress) if karpenter else []
    promtool, prometheus_bin = ensure_prometheus(progress)
    # Prometheus alone may be down (a fault test stops it): it is restarted below on its old port,
    # so a running operator and exported variables keep working.
    alive = [name for name in CONTROL_PLANE if processes.pid_of(name, state_dir) is not None]
    if len(alive) == len(CONTROL_PLANE):
        progress("[sandbox] control plane already running")
    else:
        if alive:
            progress(f"[sandbox] restarting: only {', '.join(alive)} of it is running")
            down(state_dir, progress=lambda _: None)
        # They would keep talking to the old API server.
        processes.stop(LIVE_METRICS, state_dir)
        processes.stop(KARPENTER, state_dir)
        ports = dict(zip(components.PORT_NAMES, free_ports(len(components.PORT_NAMES)), strict=True))
        layout.ports_file.write_text(json.dumps(ports, indent=2))
        pki = ensure_pki(layout.pki_dir)
        _write_kubeconfig(layout, pki, ports["apiserver"])
        _start_control_plane(bins, layout, pki, ports, progress)
    ports = _ports_with(layout, ["live_metrics"])
    _ensure_live_metrics(layout, ports, progress)
    # A sandbox started before live metrics existed gets the scrape job, and Prometheus reads it.
    changed = _write_prometheus_config(layout, ports)
    if backfill or changed or processes.pid_of("prometheus", state_dir) is None:
        restart_prometheus(state_dir, backfill, progress, promtool=promtool, executable=prometheus_bin)
    _ensure_nodes(layout, spot_nodes, on_demand_nodes, progress)
    if karpenter_build is not None:
        _ensure_karpenter(bins, karpenter_build, cluster_api_crds, layout, progress)
    env = current_env(state_dir)
    (state_dir / "env").write_text("\n".join(env.lines()) + "\n")
    progress("[sandbox] ready")
    return env


def current_env(state_dir: Path) -> SandboxEnv:
    layout = Layout(state_dir)
    if not layout.ports_file.exists() or processes.pid_of("kube-apiserver", state_dir) is None:
        raise SandboxNotRunningError(
            f"no sandbox is running in {state_dir}; start one with `thrifty sandbox up`"
        )
    ports = _read_ports(layout)
    return SandboxEnv(
        state_dir=state_dir,
        kubeconfig=layout.kubeconfig,
        prometheus_url=f"http://127.0.0.1:{ports['prometheus']}",
        bin_dirs=_tool_dirs(ensure_binaries(lambda _: None)),
    )


def down(state_dir: Path, progress: Progress = print) -> list[str]:
    """Stop every process the sandbox started, by pid; data stays for the next `up`."""
    stopped = []
    # What runs on top of the control plane (Karpenter, say) first, while the API server still answers.
    others = [name for name in processes.managed_names(state_dir) if name not in ALL_PROCESSES]
    for name in [*others, *reversed(ALL_PROCESSES)]:
        if name not in stopped and processes.stop(name, state_dir):
            stopped.append(name)
            progress(f"[sandbox] stopped {name}")
    return stopped


def stop_prometheus(state_dir: Path) -> None:
    """Stop only Prometheus: how fault tests take the metrics away from a running operator."""
    processes.stop("prometheus", state_dir)


def restart_prometheus(
    state_dir: Path,
    backfill: Sequence[Path] = (),
    progress: Progress = print,
    promtool: Path | None = None,
    executable: Path | None = None,
    query_max_samples: int | None = None,
) -> None:
    """(Re)start Prometheus, loading OpenMetrics files into its TSDB first while it is stopped.
    ``query_max_samples`` lowers the samples one query may load (until the next restart)."""
    from thrifty.sandbox.backfill import backfill as backfill_blocks

    layout = Layout(state_dir)
    if promtool is None or executable is None:
        promtool, executable = ensure_prometheus(progress)
    processes.stop("prometheus", state_dir)
    if backfill:
        progress(f"[sandbox] backfilling {len(backfill)} file(s) into Prometheus")
        backfill_blocks(promtool, list(backfill), layout.prometheus_data)
    ports = _read_ports(layout)
    command = components.prometheus(executable, layout, ports, query_max_samples)
    started = processes.start("prometheus", command, state_dir)
    url = f"http://127.0.0.1:{ports['prometheus']}"
    wait_until(
        "prometheus",
        lambda: http_ok(f"{url}/-/ready"),
        60,
        started.log,
        alive=lambda: processes.is_running(started.pid),
    )
    progress(f"[sandbox] prometheus ready at {url}")


def add_scrape_job(state_dir: Path, job: ScrapeJob) -> None:
    """The sandbox's Prometheus scrapes ``job`` too (replacing a job of its name), from now on and
    after any restart or `up`, until ``remove_scrape_job``. A running Prometheus reloads its
    configuration and keeps its data; a stopped one reads it when it starts."""
    layout = Layout(state_dir)
    kept = [j for j in read_scrape_jobs(_scrape_jobs_file(layout)) if j.name != job.name]
    _set_scrape_jobs(layout, [*kept, job])


def remove_scrape_job(state_dir: Path, name: str) -> None:
    """Stop scraping the job ``name`` that ``add_scrape_job`` added (nothing if there is none)."""
    layout = Layout(state_dir)
    jobs = read_scrape_jobs(_scrape_jobs_file(layout))
    if any(j.name == name for j in jobs):
        _set_scrape_jobs(layout, [j for j in jobs if j.name != name])


def _set_scrape_jobs(layout: Layout, jobs: list[ScrapeJob]) -> None:
    write_scrape_jobs(_scrape_jobs_file(layout), jobs)
    ports = _read_ports(layout)
    if _write_prometheus_config(layout, ports) and processes.pid_of("prometheus", layout.state_dir):
        reload_prometheus(f"http://127.0.0.1:{ports['prometheus']}")


def _scrape_jobs_file(layout: Layout) -> Path:
    return layout.state_dir / "scrape-jobs.json"


def _write_prometheus_config(layout: Layout, ports: dict[str, int]) -> bool:
    """The configuration for the live metrics (once they have a port) and every added scrape job;
    whether it changed."""
    live = f"127.0.0.1:{ports['live_metrics']}" if "live_metrics" in ports else None
    return write_prometheus_config(
        layout.prometheus_config, read_scrape_jobs(_scrape_jobs_file(layout)), live_metrics_target=live
    )


def _start_control_plane(
    bins: Binaries, layout: Layout, pki: Pki, ports: dict[str, int], progress: Progress
) -> None:
    state_dir = layout.state_dir
    api_url = f"https://127.0.0.1:{ports['apiserver']}"
    admin_tls = client_tls(pki.ca_cert, pki.admin_cert, pki.admin_key)
    any_tls = client_tls()
    steps: list[tuple[str, list[str], Callable[[], bool], float]] = [
        (
            "etcd",
            components.etcd(bins, layout, ports),
            lambda: http_ok(f"http://127.0.0.1:{ports['etcd_client']}/health", expect='"health":"true"'),
            60,
        ),
        (
            "kube-apiserver",
            components.kube_apiserver(bins, pki, ports),
            lambda: http_ok(f"{api_url}/readyz", admin_tls),
            120,
        ),
        (
            "kube-controller-manager",
            components.kube_controller_manager(bins, layout, pki, ports),
            lambda: http_ok(f"https://127.0.0.1:{ports['controller_manager']}/healthz", any_tls),
            60,
        ),
        (
            "kube-scheduler",
            components.kube_scheduler(bins, layout, ports),
            lambda: http_ok(f"https://127.0.0.1:{ports['scheduler']}/healthz", any_tls),
            60,
        ),
        (
            "kwok",
            components.kwok(bins, layout, ports),
            lambda: http_ok(f"http://127.0.0.1:{ports['kwok']}/healthz"),
            60,
        ),
    ]
    for name, argv, ready, timeout in steps:
        started = processes.start(name, argv, state_dir)
        wait_until(name, ready, timeout, started.log, alive=partial(processes.is_running, started.pid))
        progress(f"[sandbox] {name} ready")


def _ports_with(layout: Layout, names: Sequence[str]) -> dict[str, int]:
    """ports.json, with newly chosen free ports for those of ``names`` it has none for yet."""
    ports = _read_ports(layout)
    missing = [name for name in names if name not in ports]
    if missing:
        # Ports of stopped processes (Prometheus, say) are free too, but taken.
        candidates = [p for p in free_ports(len(ports) + len(missing)) if p not in ports.values()]
        ports.update(zip(missing, candidates, strict=False))
        layout.ports_file.write_text(json.dumps(ports, indent=2))
    return ports


def _ensure_live_metrics(layout: Layout, ports: dict[str, int], progress: Progress) -> None:
    if processes.pid_of(LIVE_METRICS, layout.state_dir) is not None:
        return
    started = processes.start(LIVE_METRICS, components.live_metrics(layout, ports), layout.state_dir)
    wait_until(
        LIVE_METRICS,
        lambda: http_ok(f"http://127.0.0.1:{ports['live_metrics']}/metrics"),
        60,
        started.log,
        alive=partial(processes.is_running, started.pid),
    )
    progress(f"[sandbox] {LIVE_METRICS} ready")


def _ensure_karpenter(
    bins: Binaries, build: Karpenter, cluster_api_crds: list[Path], layout: Layout, progress: Progress
) -> None:
    crds = apply_crds(bins.kubectl, layout.kubeconfig, [*build.crds, *cluster_api_crds])
    progress(f"[sandbox] {len(crds)} CRDs of Karpenter and Cluster API established")
    ports = _ports_with(layout, KARPENTER_PORT_NAMES)
    changed = write_instance_types(layout.karpenter_instance_types)
    if processes.pid_of(KARPENTER, layout.state_dir) is not None:
        if not changed:
            progress(f"[sandbox] {KARPENTER} already running")
            return
        # It reads its instance types only when it starts.
        processes.stop(KARPENTER, layout.state_dir)
    started = processes.start(
        KARPENTER,
        components.karpenter(build.binary, layout, ports),
        layout.state_dir,
        env={"KUBECONFIG": str(layout.kubeconfig)},
    )
    wait_until(
        KARPENTER,
        lambda: http_ok(f"http://127.0.0.1:{ports['karpenter_health']}/readyz"),
        120,
        started.log,
        alive=partial(processes.is_running, started.pid),
    )
    progress(f"[sandbox] {KARPENTER} ready")


def _ensure_nodes(layout: Layout, spot: int, on_demand: int, progress: Progress) -> None:
    api = client.CoreV1Api(config.new_client_from_config(str(layout.kubeconfig)))
    names = reconcile_nodes(api, spot, on_demand)
    wait_until(
        "kwok nodes", lambda: set(names) <= ready_node_names(api), 60, layout.state_dir / "logs" / "kwok.log"
    )
    # Pods need the namespace's default ServiceAccount, which the controller manager creates.
    wait_until(
        "default service account",
        lambda: bool(api.list_namespaced_service_account("default").items),
        60,
        layout.state_dir / "logs" / "kube-controller-manager.log",
    )
    progress(f"[sandbox] {spot} spot and {on_demand} on-demand nodes Ready")


def _write_kubeconfig(layout: Layout, pki: Pki, port: int) -> None:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "thrifty-sandbox",
                "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "thrifty-admin",
                "user": {"client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)},
            }
        ],
        "contexts": [
            {"name": "thrifty-sandbox", "context": {"cluster": "thrifty-sandbox", "user": "thrifty-admin"}}
        ],
        "current-context": "thrifty-sandbox",
    }
    layout.kubeconfig.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    layout.kubeconfig.chmod(0o600)


def _tool_dirs(bins: Binaries) -> tuple[Path, ...]:
    return tuple(sorted({bins.kubectl.parent, bins.helm.parent}))


def _read_ports(layout: Layout) -> dict[str, int]:
    ports: dict[str, int] = json.loads(layout.ports_file.read_text())
    return ports


def kubectl(
    env: SandboxEnv, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the sandbox's own kubectl against it."""
    binary = shutil.which("kubectl", path=":".join(map(str, env.bin_dirs)))
    if binary is None:
        raise NotReadyError("kubectl is missing from the sandbox's build cache")
    return subprocess.run(
        [binary, f"--kubeconfig={env.kubeconfig}", *args],
        capture_output=True,
        text=True,
        check=check,
        input=input,
    )
