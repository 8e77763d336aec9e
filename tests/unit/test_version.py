"""`thrifty --version` prints the installed package's version, which is the one pyproject.toml declares
and `thrifty.__version__` repeats."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import thrifty
from thrifty import cli

REPO = Path(__file__).resolve().parents[2]


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"thrifty {metadata.version('thrifty')}\n"


def test_installed_version_matches_pyproject_and_the_package() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert metadata.version("thrifty") == declared == thrifty.__version__
