"""Range answers to spend arrays: the grid, points in their cells, the latest owner or label set."""

from __future__ import annotations

import numpy as np
import pytest

from thrifty.sources.prometheus_http import RawSeries
from thrifty.sources.spend_arrays import (
    NodeLabels,
    Points,
    container_key,
    latest_by,
    nan_array,
    node_records,
    owners_of,
    pod_key,
    row_index,
    sorted_index,
    spend_grid,
    spend_step,
)

START = 1_700_000_000  # a multiple of 300


def series(labels: dict[str, str], points: list[tuple[float, str]]) -> RawSeries:
    return {"metric": labels, "values": [[t, v] for t, v in points]}


def test_the_grid_covers_the_period_once_in_steps_that_end_at_each_point() -> None:
    grid = spend_grid(START, START + 3600 + 299, 300)

    assert grid is not None
    assert (grid.start, grid.end, grid.points) == (START + 300, START + 3600, 12)
    assert spend_grid(START, START + 299, 300) is None
    assert spend_grid(START + 0.5, START + 601, 300) is not None


def test_the_step_is_the_scrape_floor_or_five_minutes_for_a_month() -> None:
    assert spend_step(START, START + 31 * 86_400, 60.0, None) == 300
    assert spend_step(START, START + 4 * 3600, 60.0, None) == 60
    assert spend_step(START, START + 31 * 86_400, 60.0, 900) == 900
    with pytest.raises(ValueError, match="positive"):
        spend_step(START, START + 3600, 60.0, 0)


def test_points_land_in_their_rows_and_columns_with_nan_elsewhere() -> None:
    grid = spend_grid(START, START + 1200, 300)
    assert grid is not None
    answer = [
        series(
            {"namespace": "b", "pod": "p", "container": "c"}, [(START + 300, "1.5"), (START + 1200, "NaN")]
        ),
        series({"namespace": "a", "pod": "p", "container": "c"}, [(START + 600, "2"), (START + 900, "+Inf")]),
        series({"namespace": "z", "pod": "p", "container": "c"}, [(START + 600, "9")]),  # not a row
    ]
    index = sorted_index(container_key(s) for s in answer[:2])
    out = nan_array(len(index), grid)
    points = Points.of(answer, grid)
    points.fill(out, row_index(answer, container_key, index))

    assert list(index) == [("a", "p", "c"), ("b", "p", "c")]
    np.testing.assert_array_equal(out, [[np.nan, 2.0, np.inf, np.nan], [1.5, np.nan, np.nan, np.nan]])
    assert points.newest == START + 1200


def test_per_series_values_fill_a_placement() -> None:
    grid = spend_grid(START, START + 900, 300)
    assert grid is not None
    answer = [
        series({"namespace": "a", "pod": "p", "node": "n2"}, [(START + 300, "1"), (START + 600, "1")]),
        series({"namespace": "a", "pod": "p", "node": "n1"}, [(START + 900, "1")]),
    ]
    placed = np.full((1, grid.points), -1, dtype=np.int64)
    Points.of(answer, grid).fill(placed, row_index(answer, pod_key, {("a", "p"): 0}), np.array([1, 0]))

    np.testing.assert_array_equal(placed, [[1, 1, 0]])


def test_the_latest_owner_wins_and_unknown_pods_get_none() -> None:
    grid = spend_grid(START, START + 900, 300)
    assert grid is not None
    owners = [
        series(
            {"namespace": "a", "pod": "p", "owner_kind": "StatefulSet", "owner_name": "new"},
            [(START + 900, "1")],
        ),
        series(
            {"namespace": "a", "pod": "p", "owner_kind": "StatefulSet", "owner_name": "old"},
            [(START + 300, "1")],
        ),
    ]
    kinds, names = owners_of(grid, owners, [("a", "p", "c"), ("a", "q", "c")])

    assert list(kinds) == ["StatefulSet", ""]
    assert list(names) == ["new", ""]
    assert latest_by([], Points.of([], grid), pod_key) == {}


def test_node_labels_come_back_under_their_keys_where_asked() -> None:
    label_set = series(
        {
            "__name__": "kube_node_labels",
            "node": "n1",
            "job": "kube-state-metrics",
            "label_karpenter_sh_capacity_type": "spot",
            "label_example_com_team": "payments",
        },
        [],
    )
    (node, bare) = node_records(["n1", "n2"], {"n1": label_set}, ["karpenter.sh/capacity-type"])

    assert node == NodeLabels(
        "n1", {"karpenter.sh/capacity-type": "spot", "label_example_com_team": "payments"}
    )
    assert node.get("karpenter.sh/capacity-type") == "spot"
    assert node.get("example.com/team") == "payments"
    assert node.get("absent") is None
    assert bare == NodeLabels("n2", {})


def test_keys_that_share_a_name_are_not_guessed() -> None:
    label_set = series({"node": "n1", "label_a_b": "x"}, [])
    (node,) = node_records(["n1"], {"n1": label_set}, ["a.b", "a/b"])

    assert node.labels == {"label_a_b": "x"}
    assert node.get("a.b") == node.get("a/b") == "x"
