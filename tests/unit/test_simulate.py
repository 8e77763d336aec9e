"""The trace replay: the oracle bounds every policy, pods start slowly, the forecast never peeks, and
the `thrifty simulate` contract (CSV times in both forms, the JSON keys, the command itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from thrifty import cli
from thrifty.cli.simulate_command import load_csv, parse_times
from thrifty.engine.simulate import POLICIES, SimulationSettings, simulate
from thrifty.sandbox.traces import load_trace

STEP = 300.0
PER_DAY = 288
CONTRACT_METRICS = ("cost", "cost_vs_oracle", "underprovisioned_fraction", "max_shortfall", "scale_events")


def test_oracle_is_the_cheapest_and_never_short_on_a_real_trace() -> None:
    trace = load_trace("alibaba2018")
    rows = 2 * PER_DAY  # two days keep the test quick; the forecast steers from the second
    result = simulate(trace.seconds[:rows], trace.cpu[:rows] * 2000, SimulationSettings(100.0))
    oracle = result.results["oracle"]
    assert oracle.underprovisioned_fraction == 0.0
    assert oracle.max_shortfall == 0.0
    assert oracle.cost_vs_oracle == 1.0
    for policy in POLICIES:
        assert result.results[policy].cost >= oracle.cost, policy
    # Thrifty without a forecast uses the API's defaults, which are the HPA's.
    assert np.array_equal(result.runs["hpa"].replicas, result.runs["thrifty-reactive"].replicas)


def test_new_pods_serve_only_after_startup() -> None:
    # 100 -> 1000 at the third row. The HPA's rate limit, max(100%, 4 pods) per 15 s, takes the 2
    # replicas to 6, 12, then 15 = ceil(1000 / (100 x 0.7)) over three syncs; the 10 that 1000 needs
    # serve 120 s after the second sync: 9 syncs short, the first with only the 2 old pods serving.
    seconds = np.arange(6) * STEP
    demand = np.array([100.0, 100.0, 1000.0, 1000.0, 1000.0, 1000.0])
    result = simulate(seconds, demand, SimulationSettings(100.0, startup_seconds=120.0), ("oracle", "hpa"))
    hpa = result.results["hpa"]
    assert list(result.runs["hpa"].replicas[40:43]) == [6, 12, 15]
    assert hpa.underprovisioned_fraction == pytest.approx(9 / len(result.times))
    assert hpa.max_shortfall == pytest.approx(1000.0 - 2 * 100.0)
    assert hpa.scale_events == 3


def square_wave(days: int) -> tuple[np.ndarray, np.ndarray]:
    """100 at night, 1000 from 08:00 to 20:00: a jump no target's spare capacity absorbs."""
    seconds = np.arange(days * PER_DAY) * STEP
    hour = (seconds % 86_400) / 3600
    return seconds, np.where((hour >= 8) & (hour < 20), 1000.0, 100.0)


def test_the_forecast_starts_pods_before_a_daily_jump() -> None:
    seconds, demand = square_wave(4)
    result = simulate(seconds, demand, SimulationSettings(100.0), ("oracle", "hpa", "thrifty-predictive"))
    hpa = result.results["hpa"]
    predictive = result.results["thrifty-predictive"]
    assert hpa.underprovisioned_fraction > 0
    assert predictive.underprovisioned_fraction < hpa.underprovisioned_fraction
    late = result.times >= 3 * 86_400  # a day of error history and two cycles: the forecast steers
    run = result.runs["thrifty-predictive"]
    assert np.all(run.ready[late] * 100.0 >= result.demand[late])
    assert "steering" in predictive.notes


def test_the_predictive_replay_never_uses_later_rows() -> None:
    seconds, demand = square_wave(3)
    cut = int(2.5 * PER_DAY)
    altered = demand.copy()
    altered[cut:] = np.random.default_rng(2).uniform(0.0, 3000.0, len(demand) - cut)
    policies = ("oracle", "thrifty-predictive")
    first = simulate(seconds, demand, SimulationSettings(100.0), policies)
    second = simulate(seconds, altered, SimulationSettings(100.0), policies)
    before = first.times < seconds[cut]
    replicas = first.runs["thrifty-predictive"].replicas
    assert np.array_equal(replicas[before], second.runs["thrifty-predictive"].replicas[before])


def test_replicas_stay_within_min_and_max() -> None:
    seconds, demand = square_wave(2)
    settings = SimulationSettings(100.0, min_replicas=3, max_replicas=9)
    result = simulate(seconds, demand, settings)
    for policy, run in result.runs.items():
        assert run.replicas.min() >= 3, policy
        assert run.replicas.max() <= 9, policy
    assert result.results["oracle"].underprovisioned_fraction > 0  # max binds: 1000 needs 10


def test_datetime_and_unix_second_csvs_parse_alike(tmp_path: Path) -> None:
    dated = tmp_path / "dated.csv"
    dated.write_text("period,count\n1998-04-30 21:30:00,10\n1998-04-30 21:35:00,20\n1998-04-30 21:40:00,\n")
    unix = tmp_path / "unix.csv"
    unix.write_text("count;period\n10;893971800\n20;893972100\n")
    dated_seconds, dated_values = load_csv(dated, "period", "count")
    unix_seconds, unix_values = load_csv(unix, "period", "count")
    assert list(dated_seconds) == [893971800.0, 893972100.0]  # 1998-04-30 21:30:00 UTC
    assert list(unix_seconds) == list(dated_seconds)
    assert list(dated_values) == list(unix_values) == [10.0, 20.0]
    assert list(parse_times(["1998-04-30T21:30:00+02:00"])) == [893971800.0 - 7200]
    with pytest.raises(ValueError, match="neither unix seconds nor"):
        parse_times(["yesterday"])


def write_daily_csv(path: Path, days: int = 2) -> Path:
    seconds = np.arange(days * PER_DAY) * STEP
    count = 1000 + 600 * np.sin(2 * np.pi * seconds / 86_400)
    times = [f"{np.datetime64(int(s) + 893971800, 's').astype(object):%Y-%m-%d %H:%M:%S}" for s in seconds]
    path.write_text("period,count\n" + "".join(f"{t},{c:.1f}\n" for t, c in zip(times, count, strict=True)))
    return path


def contract_args(path: Path) -> list[str]:
    return [
        "simulate", "--trace-csv", str(path), "--time-column", "period", "--value-column", "count",
        "--capacity-per-replica", "200", "--startup-seconds", "120", "--format", "json",
    ]  # fmt: skip


def test_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "plot.png"
    assert cli.main([*contract_args(write_daily_csv(tmp_path / "t.csv")), "--plot", str(plot)]) == 0
    output = json.loads(capsys.readouterr().out)
    assert set(output["policies"]) == set(POLICIES)
    for policy, metrics in output["policies"].items():
        for key in CONTRACT_METRICS:
            assert key in metrics, (policy, key)
    assert output["policies"]["oracle"]["cost_vs_oracle"] == 1.0
    assert plot.stat().st_size > 10_000


def test_table_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_daily_csv(tmp_path / "t.csv", days=1)
    assert cli.main(["simulate", "--trace-csv", str(path), "--capacity-per-replica", "200"]) == 0
    assert "thrifty-predictive" in capsys.readouterr().out
    assert cli.main(["simulate", "--trace-csv", str(path), "--value-column", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_command_runs_as_a_module(tmp_path: Path) -> None:
    path = write_daily_csv(tmp_path / "t.csv")
    done = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", *contract_args(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    policies = json.loads(done.stdout)["policies"]
    assert policies["oracle"]["underprovisioned_fraction"] == 0.0
    assert policies["thrifty-predictive"]["cost"] >= policies["oracle"]["cost"]
