"""ferroflow extensions: OR and parentheses in search_runs filters.

MLflow refuses these ("Invalid clause(s) in filter string: 'OR'"), so every
test here is ``ferroflow_only`` and skipped when FERROFLOW_COMPAT_REFERENCE=1.
AND binds tighter than OR, as in SQL.
"""

import types

import pytest
from mlflow.entities import Metric, Param, RunTag

from compat_helpers import run_names

pytestmark = pytest.mark.ferroflow_only


@pytest.fixture
def runs(client, experiment_id):
    # name -> (start_time, x, p, t); default order is start_time DESC: d, c, b, a
    table = {
        "a": (1_000, 1.0, "red", "x"),
        "b": (2_000, 2.0, "green", "y"),
        "c": (3_000, 3.0, "red", "y"),
        "d": (4_000, 4.0, "blue", "x"),
    }
    for name, (start, x, p, t) in table.items():
        run_id = client.create_run(experiment_id, start_time=start, run_name=name).info.run_id
        client.log_batch(
            run_id, metrics=[Metric("x", x, start, 0)], params=[Param("p", p)], tags=[RunTag("t", t)]
        )
    return types.SimpleNamespace(experiment_id=experiment_id)


def search(client, runs, filter_string):
    return run_names(client.search_runs([runs.experiment_id], filter_string))


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.x = 1 OR metrics.x = 4", ["d", "a"]),
        ("params.p = 'green' OR tags.t = 'x'", ["d", "b", "a"]),
        ("params.p = 'red' or params.p = 'blue'", ["d", "c", "a"]),  # keywords are case-insensitive
        ("metrics.x > 10 OR params.p = 'nope'", []),
    ],
)
def test_or_matches_runs_satisfying_either_side(client, runs, filter_string, expected):
    assert search(client, runs, filter_string) == expected, filter_string


def test_and_binds_tighter_than_or(client, runs):
    # = (p = red AND t = y) OR (x = 4)
    assert search(client, runs, "params.p = 'red' AND tags.t = 'y' OR metrics.x = 4") == ["d", "c"]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("(metrics.x = 1)", ["a"]),
        ("params.p = 'red' AND (tags.t = 'y' OR metrics.x = 1)", ["c", "a"]),
        ("(params.p = 'red' OR params.p = 'green') AND metrics.x >= 2", ["c", "b"]),
        ("((metrics.x < 2) OR (metrics.x > 3)) AND tags.t = 'x'", ["d", "a"]),
    ],
)
def test_parentheses_group_conditions(client, runs, filter_string, expected):
    assert search(client, runs, filter_string) == expected, filter_string


def test_or_works_with_paging(client, runs):
    first = client.search_runs(
        [runs.experiment_id], "metrics.x = 1 OR metrics.x = 2 OR metrics.x = 3", max_results=2
    )
    assert run_names(first) == ["c", "b"] and first.token
    second = client.search_runs(
        [runs.experiment_id],
        "metrics.x = 1 OR metrics.x = 2 OR metrics.x = 3",
        max_results=2,
        page_token=first.token,
    )
    assert run_names(second) == ["a"] and not second.token
