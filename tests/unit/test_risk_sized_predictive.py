"""Predictive scaling sized to a chosen risk: the calibrated headroom, the acceptance on the three
real traces at the contract's settings, the cost/risk frontier, and ``--policy``/``--sweep``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thrifty import cli
from thrifty.cli.frontier_output import time_axis
from thrifty.cli.policy_file import PolicyFileError, read_policy, with_policy
from thrifty.engine.cost_risk_frontier import FrontierPoint, compare
from thrifty.engine.forecast import risk_headroom
from thrifty.engine.simulate import SimulationSettings, simulate
from thrifty.sandbox.traces import load_trace

PER_DAY = 288


def test_the_headroom_falls_short_no_more_often_than_the_risk_and_grows_as_it_shrinks() -> None:
    rng = np.random.default_rng(3)
    predicted = rng.uniform(200, 2000, 5000)
    actual = predicted * rng.lognormal(0, 0.08, 5000)
    headrooms = []
    for risk in (0.05, 0.01, 0.002):
        headroom = risk_headroom(actual, predicted, 100.0, risk)
        replicas = np.ceil((predicted + headroom) / 100.0 - 1e-9)
        assert np.mean(actual > replicas * 100.0) <= risk
        headrooms.append(headroom)
    assert headrooms == sorted(headrooms)
    # Whole replicas leave spare capacity a plain quantile of the errors would pay for again.
    assert headrooms[1] < np.quantile(actual - predicted, 0.99)


@pytest.mark.parametrize("trace", ["alibaba2018", "azure_v2", "google2019"])
def test_at_the_default_risk_predictive_is_within_it_and_15_percent_cheaper_than_the_hpa(trace: str) -> None:
    # The contract's settings: 200 per replica, 120 s start-up, every other setting its default.
    real = load_trace(trace)
    settings = SimulationSettings(capacity_per_replica=200.0, startup_seconds=120.0)
    result = simulate(real.seconds, real.cpu * 2000, settings, ("oracle", "hpa", "thrifty-predictive"))
    hpa, ours = result.results["hpa"], result.results["thrifty-predictive"]
    assert ours.underprovisioned_fraction <= 0.005
    assert ours.cost <= 0.85 * hpa.cost, (ours.cost_vs_oracle, hpa.cost_vs_oracle)


def test_each_hpa_target_is_compared_with_the_cheapest_risk_level_as_safe() -> None:
    points = [
        FrontierPoint("hpa", 0.6, 1.6, 0.001),
        FrontierPoint("hpa", 0.9, 1.1, 0.04),
        FrontierPoint("hpa", 0.5, 1.9, 0.0001),
        FrontierPoint("thrifty-predictive", 0.001, 1.25, 0.0009),
        FrontierPoint("thrifty-predictive", 0.05, 1.08, 0.016),
    ]
    by_target = {c.hpa.setting: c for c in compare(points)}
    assert by_target[0.6].thrifty == points[3]
    assert by_target[0.6].saving == pytest.approx(1 - 1.25 / 1.6)
    assert by_target[0.9].thrifty == points[4]
    assert by_target[0.5].thrifty is None
    assert by_target[0.5].saving is None


POLICY = """
apiVersion: thrifty.dev/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Deployment, name: web}
  horizontal:
    minReplicas: 2
    maxReplicas: 40
    tolerance: 0.05
    metrics: [{type: CPU, targetUtilization: %s}]
    predictive: {enabled: true, leadTimeSeconds: 180, targetShortfallPercent: 1}
"""


def test_a_policy_file_sets_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY % 65)
    settings = with_policy(SimulationSettings(capacity_per_replica=200.0), read_policy(path))
    assert (settings.min_replicas, settings.max_replicas, settings.target_utilization) == (2, 40, 0.65)
    assert settings.predictive.lead_time_seconds == 180
    assert settings.predictive.target_shortfall == pytest.approx(0.01)
    assert settings.thrifty_rules is not None
    assert settings.thrifty_rules.tolerance == 0.05


def test_a_bad_policy_file_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY % 0)
    with pytest.raises(PolicyFileError, match=r"targetUtilization|target_utilization"):
        read_policy(path)
    csv = tmp_path / "t.csv"
    csv.write_text("t,v\n0,1\n300,2\n")
    assert cli.main(["simulate", "--trace-csv", str(csv), "--policy", str(path)]) == 2
    assert "policy.yaml: spec.horizontal.metrics.0" in capsys.readouterr().err
    path.write_text("kind: ConfigMap\n")
    with pytest.raises(PolicyFileError, match="no ScalingPolicy"):
        read_policy(path)


def daily_csv(path: Path, days: int) -> Path:
    seconds = 1_700_000_000 + np.arange(days * PER_DAY) * 300
    count = 1000 + 600 * np.sin(2 * np.pi * seconds / 86_400)
    path.write_text("t,count\n" + "".join(f"{s},{c:.1f}\n" for s, c in zip(seconds, count, strict=True)))
    return path


def test_the_sweep_writes_the_frontier_and_its_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "frontier.png"
    args = ["simulate", "--trace-csv", str(daily_csv(tmp_path / "t.csv", 2)), "--capacity-per-replica", "200"]
    assert cli.main([*args, "--sweep", str(plot), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    hpa = [p for p in document["points"] if p["policy"] == "hpa"]
    ours = [p for p in document["points"] if p["policy"] == "thrifty-predictive"]
    assert [p["target_utilization"] for p in hpa] == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert ours[0]["target_shortfall_percent"] == pytest.approx(0.01)
    assert ours[-1]["target_shortfall_percent"] == 5
    # A higher HPA target costs less.
    assert hpa[0]["cost_vs_oracle"] > hpa[-1]["cost_vs_oracle"]
    assert len(document["comparisons"]) == len(hpa)
    assert plot.stat().st_size > 10_000


def test_the_table_keeps_every_digit_and_note_when_piped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = daily_csv(tmp_path / "t.csv", 2)
    assert (
        cli.main(
            ["simulate", "--trace-csv", str(csv), "--capacity-per-replica", "200", "--demand-scale", "1e4"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "…" not in out
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.strip().startswith(("oracle", "hpa"))
    }
    # The cost column of a large trace, with its thousands separators, whole.
    assert rows["oracle"][1].replace(",", "").replace(".", "").isdigit()
    note = next(line for line in out.splitlines() if line.startswith("thrifty-predictive:"))
    assert "the floor raised replicas in" in note


def test_a_dated_trace_is_plotted_against_dates() -> None:
    x, label = time_axis(np.array([1_700_000_000.0, 1_700_000_300.0]))
    assert label == "date (UTC)"
    assert str(x[0]) == "2023-11-14T22:13:20"
    hours, label = time_axis(np.array([0.0, 7200.0]))
    assert label == "hours"
    assert hours[-1] == 2.0
