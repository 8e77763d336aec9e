"""The Helm chart in charts/thrifty as tests use it: the helm binary the sandbox build makes, `helm
template` and `helm lint` runs, and the rendered objects picked out by kind and name."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from thrifty.sandbox.build import ensure_binaries
from thrifty.sandbox.versions import KUBERNETES

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "thrifty"
RELEASE = "thrifty"
RELEASE_NAMESPACE = "thrifty-system"
# helm built from source (`go install`) assumes Kubernetes 1.20 offline, below the chart's kubeVersion;
# renders assume the sandbox's Kubernetes instead.
KUBE_VERSION = f"--kube-version={KUBERNETES}"


def helm_binary() -> Path:
    """helm from the sandbox's build cache (built on first use, like the rest of the sandbox)."""
    return ensure_binaries(progress=lambda _: None).helm


def run_helm(helm: Path, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    """helm with ``args``; never raises on failure, so callers can read what it said."""
    config = [f"--kubeconfig={kubeconfig}"] if kubeconfig else []
    return subprocess.run([str(helm), *config, *args], capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class Rendered:
    """The objects of one `helm template`, in the order helm printed them."""

    objects: tuple[dict[str, Any], ...]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [obj for obj in self.of_kind(kind) if name is None or obj["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {[o['metadata'] for o in found]}"
        return found[0]

    @property
    def kinds(self) -> set[str]:
        return {obj["kind"] for obj in self.objects}

    def container(self) -> dict[str, Any]:
        deployment = self.one("Deployment")
        containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        return containers[0]

    def args(self) -> list[str]:
        return list(self.container()["args"])

    def env(self) -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in self.container().get("env", [])}


def set_flags(values: dict[str, str]) -> list[str]:
    return [flag for key, value in values.items() for flag in ("--set", f"{key}={value}")]


def template(
    helm: Path,
    *args: str,
    chart: Path = CHART,
    namespace: str = RELEASE_NAMESPACE,
    api_versions: Sequence[str] = (),
) -> Rendered:
    """`helm template` of the chart as release ``thrifty``; asserts that it renders."""
    result = run_helm(
        helm,
        "template",
        RELEASE,
        str(chart),
        f"--namespace={namespace}",
        KUBE_VERSION,
        *(f"--api-versions={version}" for version in api_versions),
        *args,
    )
    assert result.returncode == 0, f"helm template {' '.join(args)} failed:\n{result.stderr}"
    return Rendered(tuple(parse_manifests(result.stdout)))


def template_error(helm: Path, *args: str) -> str:
    """What helm says when ``args`` do not render; asserts that they do not."""
    result = run_helm(
        helm, "template", RELEASE, str(CHART), f"--namespace={RELEASE_NAMESPACE}", KUBE_VERSION, *args
    )
    assert result.returncode != 0, f"helm template {' '.join(args)} rendered, expected a refusal"
    return result.stderr


def parse_manifests(text: str) -> Iterable[dict[str, Any]]:
    for document in yaml.safe_load_all(text):
        if document:
            yield document
