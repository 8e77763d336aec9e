"""Write argocd-cm.yaml from the health checks in health/, which are the one source of them.

python examples/argocd/generate_argocd_cm.py          # rewrite argocd-cm.yaml
python examples/argocd/generate_argocd_cm.py --check  # exit 1 if argocd-cm.yaml is not current
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
HEALTH_SCRIPTS: Final = HERE / "health"
TARGET: Final = HERE / "argocd-cm.yaml"
GROUP: Final = "thrifty.dev"
KINDS: Final = ("ScalingPolicy", "ResourceBudget", "CostPolicy")

HEADER: Final = """\
# Argo CD health checks for Thrifty's resources: Ready=True is Healthy, a Ready=False reason that
# clears by itself (a target not created yet, too little history, stale data) is Progressing, any
# other is Degraded, and an object the operator has not evaluated yet (no status, or a status of an
# older generation) is Progressing.
#
# Generated from examples/argocd/health/*.lua by examples/argocd/generate_argocd_cm.py: edit those.
#
# Merge it into the argocd-cm of an Argo CD install:
#   kubectl patch configmap argocd-cm -n argocd --patch-file examples/argocd/argocd-cm.yaml
# or list it under `patches:` of the kustomization that installs Argo CD.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
"""


def health_key(kind: str) -> str:
    """The argocd-cm key Argo CD reads a kind's health check from."""
    return f"resource.customizations.health.{GROUP}_{kind}"


def argocd_cm() -> str:
    """The ConfigMap, each script as a literal block so that it reads (and pastes) as written."""
    parts = [HEADER]
    for kind in KINDS:
        script = (HEALTH_SCRIPTS / f"{kind}.lua").read_text()
        indented = "".join(
            f"    {line}" if line.strip() else "\n" for line in script.splitlines(keepends=True)
        )
        parts.append(f"  {health_key(kind)}: |\n{indented}")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that argocd-cm.yaml is current")
    args = parser.parse_args(argv)
    wanted = argocd_cm()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text() != wanted:
            print(f"{TARGET.name} is not what {Path(__file__).name} generates: run it", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(wanted)
    print(f"wrote {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
