"""Other projects' CRDs (Karpenter's, Cluster API's MachineDeployment) in the sandbox, as their
releases ship them, minus what only their controllers could serve."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from thrifty.sandbox.readiness import NotReadyError

FIELD_MANAGER = "thrifty-sandbox"


def apply_crds(
    kubectl: Path, kubeconfig: Path, paths: Sequence[Path], timeout_seconds: int = 60
) -> list[str]:
    """Create or update the CRDs in ``paths`` and wait until they are Established; their names."""
    crds = [
        servable_without_controllers(document)
        for path in paths
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    ]
    names = [str(crd["metadata"]["name"]) for crd in crds]
    base = [str(kubectl), f"--kubeconfig={kubeconfig}"]
    # Server-side: some of these CRDs are too large for client-side apply's last-applied annotation.
    _run(
        [*base, "apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}", "-f", "-"],
        yaml.safe_dump_all(crds),
    )
    _run(
        [
            *base,
            "wait",
            "--for=condition=Established",
            f"--timeout={timeout_seconds}s",
            *(f"customresourcedefinition/{name}" for name in names),
        ]
    )
    return names


def servable_without_controllers(crd: dict[str, Any]) -> dict[str, Any]:
    """The CRD with its conversion webhook removed and only its storage version served.

    A conversion webhook points at a Service of the project's controller, which the sandbox does not
    run: every read would fail. Without it the API server converts by relabelling apiVersion only,
    which is right just for the version the objects are stored in, so no other version is served."""
    crd = copy.deepcopy(crd)
    spec = crd["spec"]
    if spec.get("conversion", {}).get("strategy") == "Webhook":
        spec["conversion"] = {"strategy": "None"}
    for version in spec["versions"]:
        version["served"] = bool(version.get("storage"))
    return crd


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NotReadyError(f"`kubectl {' '.join(argv[2:4])}` failed: {done.stderr.strip() or done.stdout}")
