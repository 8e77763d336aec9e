"""Build the sandbox's control plane from Go modules, once, into a cache keyed by version.

Kubernetes is built as a dependency of a generated module: `k8s.io/kubernetes` refers to its
staging modules through relative `replace` directives, which Go ignores outside the main module,
so the generated go.mod maps each of them to its published `v0.Y.Z`. The list comes from the
release's own go.mod, never typed by hand.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from thrifty.sandbox import versions
from thrifty.sandbox.paths import cache_root

Progress = Callable[[str], None]

KWOK_STAGES = "stages.yaml"
# KWOK does nothing without stages; these are the ones its own `kwokctl` uses by default.
_KWOK_STAGE_FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat/node-heartbeat.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
# Not `kwok`, which is KWOK's own controller.
KARPENTER_BINARY = "karpenter-kwok"
_KARPENTER_PACKAGE = "sigs.k8s.io/karpenter/kwok"
# Karpenter's CRDs (NodePool, NodeClaim, ...) and its KWOK provider's KWOKNodeClass.
_KARPENTER_CRD_DIRS = ("kwok/charts/crds", "kwok/apis/crds")
MACHINE_DEPLOYMENT_CRD = "cluster.x-k8s.io_machinedeployments.yaml"
# Newer Cluster API releases keep the core provider's CRDs under core/.
_CLUSTER_API_CRD_DIRS = ("core/config/crd/bases", "config/crd/bases")
_STAGING_REPLACE = re.compile(r"^\s*(?:replace\s+)?(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", re.MULTILINE)
_GO_DIRECTIVE = re.compile(r"^go\s+(\S+)", re.MULTILINE)

_ETCD_MAIN = """\
// Command etcd runs the etcd server, exactly as the upstream binary does.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


class BuildError(RuntimeError):
    """A component could not be built; the message carries the toolchain's own error."""


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kwok: Path
    kwok_stages: Path
    helm: Path

    @property
    def directories(self) -> list[Path]:
        return sorted({p.parent for p in (self.etcd, self.kubectl, self.kwok, self.helm)})


def ensure_binaries(progress: Progress = print) -> Binaries:
    """Return the sandbox's binaries, building whatever the cache lacks."""
    bin_root = cache_root() / "bin"
    kube_dir = bin_root / f"kubernetes-{versions.KUBERNETES}"
    etcd_dir = bin_root / f"etcd-{versions.ETCD}"
    kwok_dir = bin_root / f"kwok-{versions.KWOK}"
    helm_dir = bin_root / f"helm-{versions.HELM}"
    with _build_lock(bin_root):
        _cached(kube_dir, KUBE_COMMANDS, _build_kubernetes, progress)
        _cached(etcd_dir, ("etcd",), _build_etcd, progress)
        _cached(kwok_dir, ("kwok", KWOK_STAGES), _build_kwok, progress)
        _cached(helm_dir, ("helm",), _go_installer("helm.sh/helm/v3/cmd/helm", versions.HELM), progress)
    return Binaries(
        etcd=etcd_dir / "etcd",
        kube_apiserver=kube_dir / "kube-apiserver",
        kube_controller_manager=kube_dir / "kube-controller-manager",
        kube_scheduler=kube_dir / "kube-scheduler",
        kubectl=kube_dir / "kubectl",
        kwok=kwok_dir / "kwok",
        kwok_stages=kwok_dir / KWOK_STAGES,
        helm=helm_dir / "helm",
    )


@dataclass(frozen=True)
class Karpenter:
    binary: Path
    crds: list[Path]


def ensure_karpenter(progress: Progress = print) -> Karpenter:
    """Karpenter with its KWOK cloud provider and the CRDs it needs, building it if the cache lacks it.

    Apart from ``ensure_binaries``: it is a long build that only Karpenter sandboxes need."""
    bin_root = cache_root() / "bin"
    target = bin_root / f"karpenter-{versions.KARPENTER}"
    with _build_lock(bin_root):
        _cached(target, (KARPENTER_BINARY,), _build_karpenter, progress)
    return Karpenter(binary=target / KARPENTER_BINARY, crds=sorted((target / "crds").glob("*.yaml")))


def ensure_cluster_api_crds(progress: Progress = print) -> list[Path]:
    """Cluster API's MachineDeployment CRD, as released (copied from the module, nothing built)."""
    bin_root = cache_root() / "bin"
    target = bin_root / f"cluster-api-{versions.CLUSTER_API}"
    with _build_lock(bin_root):
        _cached(target, (MACHINE_DEPLOYMENT_CRD,), _copy_cluster_api_crds, progress)
    return [target / MACHINE_DEPLOYMENT_CRD]


@contextmanager
def _build_lock(bin_root: Path) -> Iterator[None]:
    bin_root.mkdir(parents=True, exist_ok=True)
    with (bin_root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _cached(
    target: Path, names: tuple[str, ...], builder: Callable[[Path, Progress], None], progress: Progress
) -> None:
    if all((target / name).is_file() for name in names):
        return
    # Build into a scratch directory and rename, so an interrupted build never looks cached.
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        started = time.monotonic()
        progress(f"[build] {target.name}: building {', '.join(names)} (once; cached afterwards)")
        builder(scratch, progress)
        missing = [name for name in names if not (scratch / name).is_file()]
        if missing:
            raise BuildError(f"{target.name}: the build produced no {', '.join(missing)}")
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
        progress(f"[build] {target.name}: done in {time.monotonic() - started:.0f}s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _go() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if found is None:
        raise BuildError("Go is required to build the sandbox's control plane, and `go` is not on PATH")
    return found


def _build_kubernetes(out: Path, progress: Progress) -> None:
    module = cache_root() / "src" / f"kubernetes-{versions.KUBERNETES}"
    staging_version = "v0." + versions.KUBERNETES.removeprefix("v1.")
    upstream_mod = _module_go_mod("k8s.io/kubernetes", versions.KUBERNETES)
    staging = sorted(set(_STAGING_REPLACE.findall(upstream_mod)))
    if not staging:
        raise BuildError("found no staging replace directives in k8s.io/kubernetes's go.mod")
    go_version = _GO_DIRECTIVE.search(upstream_mod)
    lines = [
        "// Generated by thrifty's sandbox build: kube components as tools of this module.",
        "module thrifty.dev/sandbox/kubernetes",
        "",
        f"go {go_version.group(1) if go_version else '1.24'}",
        "",
        *(f"replace {name} => {name} {staging_version}" for name in staging),
    ]
    _write_module(module, "\n".join(lines) + "\n")
    packages = [f"k8s.io/kubernetes/cmd/{cmd}" for cmd in KUBE_COMMANDS]
    _run_go(["get", "-tool", *(f"{p}@{versions.KUBERNETES}" for p in packages)], module, progress, "resolve")
    minor = versions.KUBERNETES.split(".")[1]
    stamp = {
        "gitVersion": versions.KUBERNETES,
        "gitMajor": "1",
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    ldflags = ["-s", "-w"] + [
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in stamp.items()
    ]
    _run_go(
        ["build", "-v", "-trimpath", "-ldflags", " ".join(ldflags), "-o", f"{out}/", *packages],
        module,
        progress,
        "kubernetes",
    )


def _build_etcd(out: Path, progress: Progress) -> None:
    module = cache_root() / "src" / f"etcd-{versions.ETCD}"
    _write_module(
        module,
        f"module thrifty.dev/sandbox/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 {versions.ETCD}\n",
    )
    (module / "main.go").write_text(_ETCD_MAIN)
    _run_go(["mod", "tidy"], module, progress, "resolve etcd")
    _run_go(
        ["build", "-v", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."],
        module,
        progress,
        "etcd",
    )


def _build_kwok(out: Path, progress: Progress) -> None:
    _go_installer("sigs.k8s.io/kwok/cmd/kwok", versions.KWOK)(out, progress)
    stage_dir = Path(_module_download("sigs.k8s.io/kwok", versions.KWOK)["Dir"]) / "kustomize" / "stage"
    documents = [(stage_dir / name).read_text().strip() for name in _KWOK_STAGE_FILES]
    (out / KWOK_STAGES).write_text("\n---\n".join(documents) + "\n")


def _build_karpenter(out: Path, progress: Progress) -> None:
    # The machine's Go may be older than the one Karpenter's go.mod asks for, and GOTOOLCHAIN=local
    # would refuse to build it.
    toolchain = {"GOTOOLCHAIN": versions.KARPENTER_GO_TOOLCHAIN}
    module = cache_root() / "src" / f"karpenter-{versions.KARPENTER}"
    _write_module(
        module,
        "// Generated by thrifty's sandbox build: Karpenter's KWOK provider as a tool of this module.\n"
        f"module thrifty.dev/sandbox/karpenter\n\ngo {versions.KARPENTER_GO_TOOLCHAIN.removeprefix('go')}\n",
    )
    _run_go(
        ["get", "-tool", f"{_KARPENTER_PACKAGE}@{versions.KARPENTER}"],
        module,
        progress,
        "resolve karpenter",
        toolchain,
    )
    _run_go(
        [
            "build",
            "-v",
            "-trimpath",
            "-ldflags",
            "-s -w",
            "-o",
            str(out / KARPENTER_BINARY),
            _KARPENTER_PACKAGE,
        ],
        module,
        progress,
        "karpenter",
        toolchain,
    )
    source = Path(_module_download("sigs.k8s.io/karpenter", versions.KARPENTER, toolchain)["Dir"])
    crds = [crd for directory in _KARPENTER_CRD_DIRS for crd in sorted((source / directory).glob("*.yaml"))]
    if not crds:
        raise BuildError(f"sigs.k8s.io/karpenter@{versions.KARPENTER} has no CRDs in {_KARPENTER_CRD_DIRS}")
    (out / "crds").mkdir()
    for crd in crds:
        _require_plain_crd(crd)
        shutil.copyfile(crd, out / "crds" / crd.name)


def _copy_cluster_api_crds(out: Path, progress: Progress) -> None:
    source = Path(_module_download("sigs.k8s.io/cluster-api", versions.CLUSTER_API)["Dir"])
    found = [source / d / MACHINE_DEPLOYMENT_CRD for d in _CLUSTER_API_CRD_DIRS]
    crd = next((path for path in found if path.is_file()), None)
    if crd is None:
        raise BuildError(f"sigs.k8s.io/cluster-api@{versions.CLUSTER_API} has no {MACHINE_DEPLOYMENT_CRD}")
    _require_plain_crd(crd)
    shutil.copyfile(crd, out / MACHINE_DEPLOYMENT_CRD)


def _require_plain_crd(path: Path) -> None:
    """Chart CRDs are applied as they are: a release that turned them into Helm templates must fail
    here, not as a confusing error from the API server."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        raise BuildError(f"{path} is not plain YAML (a Helm template?): {err}") from err
    if not documents or any(
        not isinstance(d, dict) or d.get("kind") != "CustomResourceDefinition" for d in documents
    ):
        raise BuildError(f"{path} is not a plain CustomResourceDefinition (a Helm template?)")


def _go_installer(package: str, version: str) -> Callable[[Path, Progress], None]:
    def install(out: Path, progress: Progress) -> None:
        env = {"GOBIN": str(out)}
        label = package.rsplit("/", 1)[-1]
        _run_go(
            ["install", "-v", "-trimpath", "-ldflags", "-s -w", f"{package}@{version}"],
            out,
            progress,
            label,
            env,
        )

    return install


def _write_module(module: Path, go_mod: str) -> None:
    module.mkdir(parents=True, exist_ok=True)
    (module / "go.mod").write_text(go_mod)
    (module / "go.sum").unlink(missing_ok=True)


def _module_go_mod(path: str, version: str) -> str:
    return Path(_module_download(path, version)["GoMod"]).read_text()


def _module_download(path: str, version: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """`go mod download -json`: where the module's source and go.mod are in the module cache."""
    listing = subprocess.run(
        [_go(), "mod", "download", "-json", f"{path}@{version}"],
        capture_output=True,
        text=True,
        check=False,
        env=_go_env(extra_env or {}),
        cwd=tempfile.gettempdir(),
    )
    try:
        info: dict[str, str] = json.loads(listing.stdout)
    except json.JSONDecodeError as err:
        raise BuildError(f"go mod download {path}@{version} failed: {listing.stderr.strip()}") from err
    if "Error" in info or "Dir" not in info:
        raise BuildError(f"go mod download {path}@{version} failed: {info.get('Error', listing.stderr)}")
    return info


def _go_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["CGO_ENABLED"] = "0"
    env.update(extra)
    return env


def _run_go(
    args: list[str], cwd: Path, progress: Progress, label: str, extra_env: dict[str, str] | None = None
) -> None:
    """Run go, reporting how many packages it has compiled every 20 s so a long build shows life."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [_go(), *args],
        cwd=cwd,
        env=_go_env(extra_env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    tail: list[str] = []
    counts = {"downloaded": 0, "compiled": 0}
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(20):
            progress(
                f"[build] {label}: {counts['compiled']} packages compiled, {counts['downloaded']} modules "
                f"downloaded ({time.monotonic() - started:.0f}s)"
            )

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        for line in proc.stdout:
            if line.startswith("go: downloading"):
                counts["downloaded"] += 1
            elif not line.startswith("go: "):
                counts["compiled"] += 1
            tail = [*tail[-40:], line.rstrip()]
        code = proc.wait()
    finally:
        stop.set()
    if code != 0:
        raise BuildError(f"`go {' '.join(args[:2])}` for {label} failed (exit {code}):\n" + "\n".join(tail))
