"""search_runs: filters, ordering, paging, view types, and the pandas front end."""

import math
import types

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType

from compat_helpers import raises_mlflow, run_names, search_error, walk_pages

NAN = float("nan")

# name -> (start_time, metric x, param p, tag t, terminal status or None)
# Explicit start times make the default order (start_time DESC) deterministic.
RUN_TABLE = {
    "a": (1_000, 3.0, "Hello", "T1", "FINISHED"),
    "b": (2_000, 1.0, "hello", "t2", None),
    "c": (3_000, None, None, None, "FAILED"),
    "d": (4_000, NAN, "world", "t4", None),
    "e": (5_000, 2.0, None, "T5", None),
}


@pytest.fixture
def runs(client, experiment_id):
    """Five runs a..e in a fresh experiment, shaped by RUN_TABLE."""
    ids = {}
    for name, (start, x, p, t, status) in RUN_TABLE.items():
        run_id = client.create_run(experiment_id, start_time=start, run_name=name).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("x", x, start, 0)] if x is not None else [],
            params=[Param("p", p)] if p is not None else [],
            tags=[RunTag("t", t)] if t is not None else [],
        )
        if status:
            client.set_terminated(run_id, status=status, end_time=start + 500)
        ids[name] = run_id
    return types.SimpleNamespace(experiment_id=experiment_id, ids=ids)


def search(client, runs, filter_string="", **kwargs):
    return run_names(client.search_runs([runs.experiment_id], filter_string, **kwargs))


def test_default_order_is_start_time_descending(client, runs):
    assert search(client, runs) == ["e", "d", "c", "b", "a"]


def test_empty_experiment_has_no_runs(client, experiment_id):
    assert list(client.search_runs([experiment_id])) == []


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.x > 1", ["e", "a"]),
        ("metrics.x >= 1", ["e", "b", "a"]),
        ("metrics.x = 1", ["b"]),
        ("metrics.x < 2.5", ["e", "b"]),
        ("metrics.x <= 3", ["e", "b", "a"]),
        # NaN never compares equal/greater/less, but it is "!=" everything.
        ("metrics.x != 1", ["e", "d", "a"]),
        ("metrics.missing > 0", []),
        ("metrics.x > 0 AND metrics.x < 3", ["e", "b"]),
    ],
)
def test_metric_filters_compare_the_latest_value(client, runs, filter_string, expected):
    assert search(client, runs, filter_string) == expected, filter_string


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("params.p = 'Hello'", ["a"]),
        ('params.p = "hello"', ["b"]),
        # Runs without the param never match, not even "!=".
        ("params.p != 'Hello'", ["d", "b"]),
        ("params.p LIKE 'H%'", ["a"]),  # LIKE is case-sensitive
        ("params.p LIKE '%ello'", ["b", "a"]),
        ("params.p LIKE '_orld'", ["d"]),
        ("params.p ILIKE 'h%'", ["b", "a"]),
        ("params.p ILIKE 'WORLD'", ["d"]),
        ("params.p IS NULL", ["e", "c"]),
        ("params.p IS NOT NULL", ["d", "b", "a"]),
        ("params.p = 'hello' AND metrics.x = 1", ["b"]),
    ],
)
def test_param_filters(client, runs, filter_string, expected):
    assert search(client, runs, filter_string) == expected, filter_string


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("tags.t = 'T1'", ["a"]),
        ("tags.t != 'T1'", ["e", "d", "b"]),
        ("tags.t LIKE 'T%'", ["e", "a"]),
        ("tags.t ILIKE 't%'", ["e", "d", "b", "a"]),
        ("tags.t IS NULL", ["c"]),
        ("tags.t IS NOT NULL", ["e", "d", "b", "a"]),
        ("tags.`t` = 'T5'", ["e"]),
        ("tags.\"t\" = 'T5'", ["e"]),
    ],
)
def test_tag_filters(client, runs, filter_string, expected):
    assert search(client, runs, filter_string) == expected, filter_string


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("attributes.status = 'FINISHED'", ["a"]),
        ("attributes.status = 'RUNNING'", ["e", "d", "b"]),
        ("attributes.status != 'RUNNING'", ["c", "a"]),
        ("attributes.run_name = 'c'", ["c"]),
        ("attributes.run_name LIKE 'c%'", ["c"]),
        ("attributes.run_name ILIKE 'C'", ["c"]),
        ("attributes.start_time >= 3000", ["e", "d", "c"]),
        ("attributes.start_time < 2000", ["a"]),
        ("attributes.start_time = 2000", ["b"]),
        ("attributes.end_time > 3000", ["c"]),
        ("attributes.start_time > 1000 AND attributes.start_time < 5000", ["d", "c", "b"]),
    ],
)
def test_attribute_filters(client, runs, filter_string, expected):
    assert search(client, runs, filter_string) == expected, filter_string


@pytest.mark.parametrize(
    "filter_string",
    [
        "metric.x = 1",
        "param.p = 'hello'",
        "parameters.p = 'hello'",
        "tag.t = 't2'",
        "attribute.run_name = 'b'",
        "attr.run_name = 'b'",
        "run_name = 'b'",
        "run.run_name = 'b'",
        "created = 2000",
        "`Run name` = 'b'",
    ],
)
def test_identifier_aliases_select_the_same_run(client, runs, filter_string):
    assert search(client, runs, filter_string) == ["b"], filter_string


def test_run_id_in_and_not_in(client, runs):
    ids = runs.ids
    assert search(client, runs, f"attributes.run_id IN ('{ids['a']}', '{ids['c']}')") == ["c", "a"]
    assert search(client, runs, f"attributes.run_id NOT IN ('{ids['a']}', '{ids['c']}')") == [
        "e",
        "d",
        "b",
    ]
    assert search(client, runs, f"attributes.run_id = '{ids['d']}'") == ["d"]


def test_search_in_unknown_experiment_returns_nothing(client):
    # No RESOURCE_DOES_NOT_EXIST here: MLflow simply finds no runs.
    assert list(client.search_runs(["987654321"])) == []


def test_keywords_are_case_insensitive(client, runs):
    assert search(client, runs, "params.p like 'H%' and metrics.x > 0") == ["a"]
    assert search(client, runs, "params.p ilike 'h%'") == ["b", "a"]
    assert search(client, runs, "tags.t is null") == ["c"]


def test_search_over_several_experiments_returns_runs_of_all_of_them(client, unique_name):
    first = client.create_experiment(unique_name("one"))
    second = client.create_experiment(unique_name("two"))
    r1 = client.create_run(first, start_time=10, run_name="r1").info.run_id
    r2 = client.create_run(second, start_time=20, run_name="r2").info.run_id
    found = client.search_runs([first, second])
    assert [r.info.run_id for r in found] == [r2, r1]
    assert {r.info.run_id: r.info.experiment_id for r in found} == {r1: first, r2: second}


def test_search_results_carry_full_run_data(client, runs):
    (run,) = client.search_runs([runs.experiment_id], "attributes.run_name = 'a'")
    assert run.info.run_id == runs.ids["a"]
    assert run.info.status == "FINISHED"
    assert run.info.start_time == 1_000 and run.info.end_time == 1_500
    assert run.data.metrics == {"x": 3.0}
    assert run.data.params == {"p": "Hello"}
    assert run.data.tags == {"t": "T1", "mlflow.runName": "a"}


@pytest.mark.parametrize(
    "order_by, expected",
    [
        # NaN sorts after real numbers in both directions; missing comes last.
        ("metrics.x ASC", ["b", "e", "a", "d", "c"]),
        ("metrics.x DESC", ["a", "e", "b", "d", "c"]),
        ("metrics.x", ["b", "e", "a", "d", "c"]),
        # Missing params/tags last in both directions; ties fall back to start_time DESC.
        ("params.p ASC", ["a", "b", "d", "e", "c"]),
        ("params.p DESC", ["d", "b", "a", "e", "c"]),
        ("tags.t ASC", ["a", "e", "b", "d", "c"]),
        ("tags.t DESC", ["d", "b", "e", "a", "c"]),
        ("attributes.run_name DESC", ["e", "d", "c", "b", "a"]),
        ("attributes.start_time ASC", ["a", "b", "c", "d", "e"]),
        ("run_name ASC", ["a", "b", "c", "d", "e"]),
        ("attributes.status ASC", ["c", "a", "e", "d", "b"]),
    ],
)
def test_order_by(client, runs, order_by, expected):
    assert search(client, runs, order_by=[order_by]) == expected, order_by


def test_order_by_several_keys(client, runs):
    assert search(client, runs, order_by=["attributes.status DESC", "metrics.x ASC"]) == [
        "b",
        "e",
        "d",
        "a",
        "c",
    ]


@pytest.mark.parametrize("order_by", [None, ["metrics.x DESC"], ["params.p ASC"]])
@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_paging_walks_all_runs_without_duplicates_or_gaps(client, runs, order_by, page_size):
    unpaged = client.search_runs([runs.experiment_id], order_by=order_by)
    pages = walk_pages(
        lambda **kw: client.search_runs([runs.experiment_id], order_by=order_by, **kw), page_size
    )
    assert [len(p) for p in pages[:-1]] == [page_size] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= page_size, "the last page is never empty"
    walked = [r.info.run_id for page in pages for r in page]
    assert len(walked) == len(set(walked)), f"duplicates across pages: {walked}"
    assert walked == [r.info.run_id for r in unpaged], "paging must follow the unpaged order"
    assert len(walked) == 5


def test_page_of_exactly_all_results_has_no_next_token(client, runs):
    page = client.search_runs([runs.experiment_id], max_results=5)
    assert len(page) == 5
    assert page.token is None


def test_filtered_paging(client, runs):
    pages = walk_pages(
        lambda **kw: client.search_runs([runs.experiment_id], "params.p IS NOT NULL", **kw), 2
    )
    assert [run_names(p) for p in pages] == [["d", "b"], ["a"]]


def test_run_view_type_selects_active_deleted_or_all(client, runs):
    client.delete_run(runs.ids["b"])
    client.delete_run(runs.ids["d"])
    eid = runs.experiment_id
    assert run_names(client.search_runs([eid])) == ["e", "c", "a"]
    assert run_names(client.search_runs([eid], run_view_type=ViewType.ACTIVE_ONLY)) == ["e", "c", "a"]
    assert run_names(client.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)) == ["d", "b"]
    assert run_names(client.search_runs([eid], run_view_type=ViewType.ALL)) == [
        "e",
        "d",
        "c",
        "b",
        "a",
    ]
    client.restore_run(runs.ids["b"])
    assert run_names(client.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)) == ["d"]


@pytest.mark.parametrize(
    "filter_string, fragment",
    [
        ("metrics.x ==== 1", "Invalid comparator '===='"),
        ("params.p = hello", "Parameter value is either not quoted or unidentified quote types"),
        ("params.p = 1", "Expected a quoted string value"),
        ("metrics.x > 'a'", "Expected numeric value type for metric"),
        ("foo.bar = 'x'", "Invalid entity type 'foo'"),
        ("metrics.x IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params"),
        ("attributes.experiment_id = '1'", "Invalid attribute key 'experiment_id'"),
        ("attributes.status IN ('RUNNING')", "Only ['run_id'] attributes support comparison"),
        ("params.p", "Invalid clause(s) in filter string: 'params.p'"),
        ("params.p = 'a'; params.p = 'b'", "Search filter contained multiple expression"),
        ("params.p IN ('a')", "Expected a quoted string value"),
    ],
)
def test_malformed_filter_is_invalid_parameter_value(client, runs, filter_string, fragment):
    with raises_mlflow("INVALID_PARAMETER_VALUE", search_error(fragment)):
        client.search_runs([runs.experiment_id], filter_string)


def test_malformed_order_by_is_invalid_parameter_value(client, runs):
    with raises_mlflow("INVALID_PARAMETER_VALUE", search_error("Invalid ordering key")):
        client.search_runs([runs.experiment_id], order_by=["metrics.x SIDEWAYS"])


def test_bad_page_token_is_invalid_parameter_value(client, runs):
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid page token"):
        client.search_runs([runs.experiment_id], page_token="not-a-token")


def test_max_results_above_50000_is_invalid_parameter_value(client, runs):
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid value 50001 for parameter 'max_results'"):
        client.search_runs([runs.experiment_id], max_results=50001)


def test_pandas_search_runs_returns_one_row_per_run_with_typed_columns(runs):
    df = mlflow.search_runs(experiment_ids=[runs.experiment_id])
    assert isinstance(df, pd.DataFrame)
    assert list(df["run_id"]) == [runs.ids[n] for n in ["e", "d", "c", "b", "a"]]
    for column in (
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "metrics.x",
        "params.p",
        "tags.t",
        "tags.mlflow.runName",
    ):
        assert column in df.columns, f"{column} missing from {list(df.columns)}"
    rows = df.set_index("tags.mlflow.runName")
    assert set(rows["experiment_id"]) == {runs.experiment_id}
    assert rows.loc["a", "status"] == "FINISHED"
    assert rows.loc["c", "status"] == "FAILED"
    assert rows.loc["b", "status"] == "RUNNING"
    # Values, value by value; NaN metric and missing metric both become NaN.
    assert rows.loc["a", "metrics.x"] == 3.0
    assert rows.loc["b", "metrics.x"] == 1.0
    assert rows.loc["e", "metrics.x"] == 2.0
    assert math.isnan(rows.loc["d", "metrics.x"])
    assert math.isnan(rows.loc["c", "metrics.x"])
    assert rows.loc["a", "params.p"] == "Hello"
    assert pd.isna(rows.loc["c", "params.p"])
    assert rows.loc["d", "tags.t"] == "t4"
    # start_time becomes a timezone-aware timestamp in milliseconds.
    assert rows.loc["b", "start_time"] == pd.Timestamp(2_000, unit="ms", tz="UTC")
    assert rows.loc["a", "end_time"] == pd.Timestamp(1_500, unit="ms", tz="UTC")


def test_pandas_search_runs_applies_filter_and_order(runs):
    df = mlflow.search_runs(
        experiment_ids=[runs.experiment_id],
        filter_string="metrics.x >= 1",
        order_by=["metrics.x DESC"],
    )
    assert list(df["tags.mlflow.runName"]) == ["a", "e", "b"]
    assert list(df["metrics.x"]) == [3.0, 2.0, 1.0]


def test_pandas_search_runs_by_experiment_name(runs, client):
    name = client.get_experiment(runs.experiment_id).name
    df = mlflow.search_runs(experiment_names=[name], filter_string="attributes.run_name = 'c'")
    assert list(df["run_id"]) == [runs.ids["c"]]
