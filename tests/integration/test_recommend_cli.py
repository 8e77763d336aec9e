"""`thrifty recommend` against the sandbox: no operator, no CRDs needed, every format parses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from typing import Any

import yaml
from sandbox_helpers import sandbox_environ

from thrifty.sandbox.cluster import SandboxEnv


def recommend(env: SandboxEnv, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "recommend", "-n", "demo", *args],
        capture_output=True,
        text=True,
        env=sandbox_environ(env),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def web_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    [row] = [r for r in rows if (r["workload"], r["container"]) == ("web", "web")]
    return row


def test_json_names_the_container_and_recommends_less_cpu_than_requested(
    sandbox: SandboxEnv, demo_history: None
) -> None:
    row = web_row(json.loads(recommend(sandbox, "-o", "json"))["recommendations"])
    assert row["cpu_request"] == "500m"
    assert row["memory_request"] == "512Mi"
    assert row["status"] == "Recommended"
    # The trace is replayed at the requests' scale, so real usage sits below what is requested.
    assert row["cpu_recommended"].endswith("m")
    assert int(row["cpu_recommended"][:-1]) < 500
    assert row["monthly_savings"] > 0
    assert "p95" in row["reason"]


def test_csv_yaml_and_table_agree_with_json(sandbox: SandboxEnv, demo_history: None) -> None:
    expected = web_row(json.loads(recommend(sandbox, "-o", "json"))["recommendations"])
    from_csv = web_row(list(csv.DictReader(io.StringIO(recommend(sandbox, "-o", "csv")))))
    from_yaml = web_row(yaml.safe_load(recommend(sandbox, "-o", "yaml"))["recommendations"])
    assert from_csv["cpu_recommended"] == from_yaml["cpu_recommended"] == expected["cpu_recommended"]
    assert from_csv["memory_recommended"] == from_yaml["memory_recommended"] == expected["memory_recommended"]
    assert "Total monthly savings" in recommend(sandbox)


def test_an_unreachable_prometheus_is_an_error_not_a_recommendation(
    sandbox: SandboxEnv, demo_history: None
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "thrifty.cli",
            "recommend",
            "-n",
            "demo",
            "--prometheus-url",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        env=sandbox_environ(sandbox),
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "127.0.0.1:9" in result.stderr
