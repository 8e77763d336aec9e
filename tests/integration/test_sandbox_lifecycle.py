"""`thrifty sandbox up | up | down` through the CLI, as a user runs it, on a sandbox of its own.

The session sandbox (and any developer's sandbox) keeps running meanwhile, so every process check
matches on this test's state directory only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sandbox_helpers import eventually, kubectl, parse_table

from thrifty.sandbox import cluster, processes
from thrifty.sandbox.cluster import SandboxEnv
from thrifty.sandbox.prometheus import LIVE_METRICS_JOB, write_prometheus_config

# The sandbox's processes, by executable name; each one's command line names the state directory.
# The live-metrics exporter runs on the Python that runs `thrifty` (the one running these tests).
PROCESSES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    Path(sys.executable).name,
    "prometheus",
)
# Limit for one CLI call (the first `up` starts everything on a possibly busy machine).
CLI_TIMEOUT_SECONDS = 420


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("lifecycle")
    try:
        yield directory
    finally:
        # Whatever the test did, leave nothing running.
        cluster.down(directory, progress=lambda _: None)


def sandbox_cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("thrifty")), "sandbox", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=CLI_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"thrifty sandbox {' '.join(args)} failed:\n{result.stderr}"
    return result


def env_lines(stdout: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in stdout.splitlines())
    return {key: value for key, sep, value in pairs if sep and key in ("KUBECONFIG", "PROMETHEUS_URL")}


def processes_mentioning(directory: Path) -> dict[int, str]:
    """pid -> executable name of every live process whose command line names ``directory``."""
    inside, exact = f"{directory}/", str(directory)
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = [arg.decode(errors="replace") for arg in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:  # the process ended while we looked
            continue
        if any(inside in arg or arg.endswith(exact) for arg in argv):
            found[int(proc.name)] = Path(argv[0]).name
    return found


def healthy(env: SandboxEnv) -> bool:
    api_ready = kubectl(env, "get", "--raw", "/readyz", check=False).stdout.strip() == "ok"
    prometheus_ready = requests.get(f"{env.prometheus_url}/-/ready", timeout=10).status_code == 200
    return api_ready and prometheus_ready


def live_target_up(env: SandboxEnv) -> bool:
    answer = requests.get(
        f"{env.prometheus_url}/api/v1/query", params={"query": f'up{{job="{LIVE_METRICS_JOB}"}}'}, timeout=10
    ).json()
    return [series["value"][1] for series in answer["data"]["result"]] == ["1"]


def node_counts(env: SandboxEnv) -> Counter[tuple[str, str]]:
    """(capacity type, status) -> nodes."""
    table = parse_table(kubectl(env, "get", "nodes", "-L", "karpenter.sh/capacity-type").stdout)
    return Counter((row["CAPACITY-TYPE"], row["STATUS"]) for row in table)


@pytest.mark.timeout(3 * CLI_TIMEOUT_SECONDS)
def test_up_twice_then_down_leaves_nothing_running(state_dir: Path) -> None:
    first = sandbox_cli(state_dir, "up", "--spot-nodes", "1", "--on-demand-nodes", "1")

    printed = env_lines(first.stdout)
    assert set(printed) == {"KUBECONFIG", "PROMETHEUS_URL"}, first.stdout
    env = cluster.current_env(state_dir)
    assert printed == {"KUBECONFIG": str(env.kubeconfig), "PROMETHEUS_URL": env.prometheus_url}
    assert Path(printed["KUBECONFIG"]).is_file()
    assert healthy(env)
    expected_nodes = Counter({("spot", "Ready"): 1, ("on-demand", "Ready"): 1})
    assert node_counts(env) == expected_nodes
    running = processes_mentioning(state_dir)
    assert sorted(running.values()) == sorted(PROCESSES), running
    assert "[sandbox] live-metrics ready" in first.stderr

    second = sandbox_cli(state_dir, "up", "--spot-nodes", "1", "--on-demand-nodes", "1")

    assert env_lines(second.stdout) == printed
    assert healthy(env)
    assert node_counts(env) == expected_nodes
    assert processes_mentioning(state_dir) == running, "a second `up` restarted processes"

    # A sandbox started before the live-metrics exporter existed: no port, no scrape job, no process.
    processes.stop(cluster.LIVE_METRICS, state_dir)
    ports_file = state_dir / "ports.json"
    old_ports = json.loads(ports_file.read_text())
    del old_ports["live_metrics"]
    ports_file.write_text(json.dumps(old_ports))
    write_prometheus_config(state_dir / "prometheus.yml")
    old_prometheus = processes.pid_of("prometheus", state_dir)

    third = sandbox_cli(state_dir, "up", "--spot-nodes", "1", "--on-demand-nodes", "1")

    assert env_lines(third.stdout) == printed
    assert "[sandbox] live-metrics ready" in third.stderr
    ports = json.loads(ports_file.read_text())
    assert {name: port for name, port in ports.items() if name != "live_metrics"} == old_ports
    assert ports["live_metrics"] not in old_ports.values()
    assert LIVE_METRICS_JOB in (state_dir / "prometheus.yml").read_text()
    assert processes.pid_of("prometheus", state_dir) not in (None, old_prometheus), "config not reloaded"
    eventually("Prometheus scrapes live metrics", lambda: live_target_up(env), 60)

    sandbox_cli(state_dir, "down")

    assert processes_mentioning(state_dir) == {}
