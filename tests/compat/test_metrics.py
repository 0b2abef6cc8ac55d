"""Metric history, special float values and the "latest metric" rule."""

import math

from compat_helpers import INF, assert_metric_points


def _log_points(client, run_id, key, points):
    for value, timestamp, step in points:
        client.log_metric(run_id, key, value, timestamp=timestamp, step=step)


def test_metric_history_returns_every_point_ordered_by_timestamp_then_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # Logged deliberately out of order.
    _log_points(
        client,
        run_id,
        "h",
        [(1.0, 300, 0), (2.0, 100, 5), (3.0, 200, 1), (4.0, 100, 2), (5.0, 50, 9)],
    )
    assert_metric_points(
        client.get_metric_history(run_id, "h"),
        [(5.0, 50, 9), (4.0, 100, 2), (2.0, 100, 5), (3.0, 200, 1), (1.0, 300, 0)],
    )


def test_metric_history_keeps_nan_and_infinities(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    _log_points(
        client,
        run_id,
        "special",
        [
            (float("nan"), 10, 0),
            (float("inf"), 20, 1),
            (float("-inf"), 30, 2),
            (0.0, 40, 3),
            (-1.5e-300, 50, 4),
        ],
    )
    # MLflow's SQL store writes +/-inf as +/-INF; ferroflow keeps them (see INF).
    assert_metric_points(
        client.get_metric_history(run_id, "special"),
        [(math.nan, 10, 0), (INF, 20, 1), (-INF, 30, 2), (0.0, 40, 3), (-1.5e-300, 50, 4)],
    )


def test_points_with_same_timestamp_and_step_are_ordered_by_value_with_nan_as_zero(
    client, experiment_id
):
    run_id = client.create_run(experiment_id).info.run_id
    for value in (1.0, float("nan"), float("inf"), float("-inf"), -0.5, 0.5):
        client.log_metric(run_id, "tie", value, timestamp=1000, step=0)
    # The SQL store keeps NaN as value 0 + is_nan flag, so NaN sorts where 0 would.
    assert_metric_points(
        client.get_metric_history(run_id, "tie"),
        [
            (-INF, 1000, 0),
            (-0.5, 1000, 0),
            (math.nan, 1000, 0),
            (0.5, 1000, 0),
            (1.0, 1000, 0),
            (INF, 1000, 0),
        ],
    )


def test_identical_metric_points_are_deduplicated(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # The client retries LogMetric as a "retry-safe" write: a duplicate point
    # must not show up twice.
    _log_points(client, run_id, "d", [(4.0, 100, 1), (4.0, 100, 1), (4.0, 100, 2), (4.0, 101, 1)])
    assert_metric_points(
        client.get_metric_history(run_id, "d"), [(4.0, 100, 1), (4.0, 100, 2), (4.0, 101, 1)]
    )


def test_metric_history_of_unlogged_key_is_empty(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    assert client.get_metric_history(run_id, "never-logged") == []


def test_metric_history_entries_carry_key(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "keyed", 1.0, timestamp=1, step=1)
    (point,) = client.get_metric_history(run_id, "keyed")
    assert point.key == "keyed"


def test_latest_metric_is_the_greatest_step_even_if_an_older_step_has_a_later_timestamp(
    client, experiment_id
):
    run_id = client.create_run(experiment_id).info.run_id
    _log_points(client, run_id, "q", [(5.0, 200, 1), (7.0, 100, 2), (9.0, 300, 1)])
    assert client.get_run(run_id).data.metrics["q"] == 7.0


def test_latest_metric_within_a_step_is_the_latest_timestamp(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    _log_points(client, run_id, "q", [(1.0, 300, 4), (2.0, 100, 4), (3.0, 200, 4)])
    assert client.get_run(run_id).data.metrics["q"] == 1.0


def test_latest_metric_with_equal_step_and_timestamp_is_the_greatest_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # (step, timestamp, value) is compared as a tuple, so logging order is irrelevant.
    _log_points(client, run_id, "w", [(5.0, 100, 1), (4.0, 100, 1)])
    assert client.get_run(run_id).data.metrics["w"] == 5.0


def test_latest_metric_can_be_nan_when_it_has_the_greatest_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    _log_points(client, run_id, "n", [(1.0, 500, 1), (float("nan"), 50, 9)])
    latest = client.get_run(run_id).data.metrics["n"]
    assert math.isnan(latest), f"expected NaN as the latest value, got {latest}"


def test_latest_infinite_metric_reads_back(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    _log_points(client, run_id, "pos", [(float("inf"), 1, 0)])
    _log_points(client, run_id, "neg", [(float("-inf"), 1, 0)])
    assert client.get_run(run_id).data.metrics == {"pos": INF, "neg": -INF}


def test_run_data_metrics_hold_only_the_latest_point_per_key(client, api, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    _log_points(client, run_id, "a", [(1.0, 1, 0), (2.0, 2, 1), (3.0, 3, 2)])
    _log_points(client, run_id, "b", [(10.0, 1, 0)])
    assert client.get_run(run_id).data.metrics == {"a": 3.0, "b": 10.0}
    # On the wire data.metrics are full Metric messages: the latest point,
    # with its own timestamp and step.
    wire = api.get("runs/get", run_id=run_id).json()["run"]["data"]["metrics"]
    latest = {m["key"]: (m["value"], m["timestamp"], m["step"]) for m in wire}
    assert latest == {"a": (3.0, 3, 2), "b": (10.0, 1, 0)}
