"""Experiments: create, get, rename, delete/restore (with their runs), tags, search."""

import uuid

import pytest
from mlflow.entities import ViewType

from compat_helpers import REFERENCE_MODE, raises_mlflow, search_error, walk_pages


def test_create_experiment_with_tags_reads_back(client, unique_name):
    name = unique_name()
    eid = client.create_experiment(name, tags={"owner": "ferro", "n": "1"})
    assert isinstance(eid, str) and eid, "experiment ids are strings"
    exp = client.get_experiment(eid)
    assert exp.experiment_id == eid
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"owner": "ferro", "n": "1"}
    assert exp.creation_time is not None and exp.creation_time > 0
    assert exp.last_update_time >= exp.creation_time
    assert exp.artifact_location, "an artifact location is always assigned"


def test_get_experiment_by_name_finds_it_and_returns_none_for_missing(client, unique_name):
    name = unique_name()
    eid = client.create_experiment(name)
    assert client.get_experiment_by_name(name).experiment_id == eid
    assert client.get_experiment_by_name(f"{name}-does-not-exist") is None


def test_experiment_names_are_case_sensitive(client, unique_name):
    name = unique_name("MiXeD")
    client.create_experiment(name)
    assert client.get_experiment_by_name(name.lower()) is None
    # A name differing only in case is a different experiment.
    other = client.create_experiment(name.upper())
    assert client.get_experiment_by_name(name.upper()).experiment_id == other


def test_duplicate_experiment_name_is_resource_already_exists(client, unique_name):
    name = unique_name()
    client.create_experiment(name)
    with raises_mlflow("RESOURCE_ALREADY_EXISTS", f"Experiment(name={name}) already exists"):
        client.create_experiment(name)


def test_name_of_a_deleted_experiment_is_still_taken(client, unique_name):
    name = unique_name()
    client.delete_experiment(client.create_experiment(name))
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)


def test_get_experiment_for_unknown_id_is_resource_does_not_exist(client):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists"):
        client.get_experiment("987654321")


def test_non_integer_experiment_id_is_invalid_parameter_value(client):
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'"):
        client.get_experiment("abc")


def test_rename_experiment(client, unique_name):
    old, new = unique_name("old"), unique_name("new")
    eid = client.create_experiment(old)
    client.rename_experiment(eid, new)
    assert client.get_experiment(eid).name == new
    assert client.get_experiment_by_name(new).experiment_id == eid
    assert client.get_experiment_by_name(old) is None


def test_rename_to_an_existing_name_is_a_bad_request(client, unique_name):
    # MLflow surfaces the unique-constraint failure as a generic 400 BAD_REQUEST
    # (not RESOURCE_ALREADY_EXISTS as for create).
    taken = unique_name("taken")
    client.create_experiment(taken)
    eid = client.create_experiment(unique_name("mine"))
    with raises_mlflow("BAD_REQUEST"):
        client.rename_experiment(eid, taken)
    assert client.get_experiment(eid).name == unique_name("mine")


def test_renaming_a_deleted_experiment_is_invalid_state_500(client, api, unique_name):
    eid = client.create_experiment(unique_name())
    client.delete_experiment(eid)
    # Checked on the wire: with retries disabled the client reports a 500 as a
    # connection-level "max retries" error and hides the body.
    resp = api.post("experiments/update", {"experiment_id": eid, "new_name": unique_name("x")})
    assert resp.status_code == 500, resp.text
    body = resp.json()
    assert body["error_code"] == "INVALID_STATE"
    assert body["message"] == "Cannot rename a non-active experiment."


def test_delete_and_restore_experiment_take_its_runs_along(client, experiment_id):
    keep = client.create_run(experiment_id, start_time=1).info.run_id
    also = client.create_run(experiment_id, start_time=2).info.run_id

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    for run_id in (keep, also):
        info = client.get_run(run_id).info
        assert info.lifecycle_stage == "deleted", f"run {run_id} should follow its experiment"
        assert info.status == "RUNNING"
    assert list(client.search_runs([experiment_id])) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [also, keep]

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    for run_id in (keep, also):
        assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [also, keep]


def test_restoring_an_experiment_restores_its_runs(client, experiment_id):
    # MLflow restores every run of the experiment, including runs that had been
    # deleted individually before the experiment was deleted; ferroflow restores only
    # the runs deleted with the experiment (a deliberate difference, see compat_helpers).
    kept = client.create_run(experiment_id).info.run_id
    deleted_alone = client.create_run(experiment_id).info.run_id
    client.delete_run(deleted_alone)
    client.delete_experiment(experiment_id)
    assert client.get_run(kept).info.lifecycle_stage == "deleted"
    client.restore_experiment(experiment_id)
    assert client.get_run(kept).info.lifecycle_stage == "active"
    expected = "active" if REFERENCE_MODE else "deleted"
    assert client.get_run(deleted_alone).info.lifecycle_stage == expected


def test_deleted_experiment_is_still_readable_by_id_and_name(client, unique_name):
    name = unique_name()
    eid = client.create_experiment(name)
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    by_name = client.get_experiment_by_name(name)
    assert by_name is not None and by_name.lifecycle_stage == "deleted"


def test_runs_cannot_be_created_in_or_logged_to_a_deleted_experiment(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_experiment(experiment_id)
    with raises_mlflow(
        "INVALID_PARAMETER_VALUE",
        f"The experiment {experiment_id} must be in the 'active' state. Current state is deleted.",
    ):
        client.create_run(experiment_id)
    with raises_mlflow(
        "INVALID_PARAMETER_VALUE",
        f"The run {run_id} must be in the 'active' state. Current state is deleted.",
    ):
        client.log_param(run_id, "p", "1")


def test_deleting_an_unknown_experiment_is_resource_does_not_exist(client):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists"):
        client.delete_experiment("987654321")


def test_set_and_delete_experiment_tag(client, experiment_id):
    client.set_experiment_tag(experiment_id, "k", "v1")
    client.set_experiment_tag(experiment_id, "k", "v2")
    client.set_experiment_tag(experiment_id, "other", "x")
    assert client.get_experiment(experiment_id).tags == {"k": "v2", "other": "x"}
    if not hasattr(client, "delete_experiment_tag"):
        pytest.skip("this mlflow client has no delete_experiment_tag")
    client.delete_experiment_tag(experiment_id, "k")
    assert client.get_experiment(experiment_id).tags == {"other": "x"}


def test_deleting_a_missing_experiment_tag_is_resource_does_not_exist(client, experiment_id):
    if not hasattr(client, "delete_experiment_tag"):
        pytest.skip("this mlflow client has no delete_experiment_tag")
    with raises_mlflow(
        "RESOURCE_DOES_NOT_EXIST", f"No tag with name: missing in experiment with id {experiment_id}"
    ):
        client.delete_experiment_tag(experiment_id, "missing")


@pytest.fixture
def family(client):
    """Five experiments <prefix>-0..4 with tags idx and grp (even/odd)."""
    prefix = f"compat-search-exp-{uuid.uuid4().hex[:10]}"
    ids = [
        client.create_experiment(
            f"{prefix}-{i}", tags={"idx": str(i), "grp": "even" if i % 2 == 0 else "odd"}
        )
        for i in range(5)
    ]
    return prefix, ids


def _suffixes(experiments):
    return [e.name.rsplit("-", 1)[1] for e in experiments]


def test_search_experiments_default_order_is_creation_time_desc_then_id(client, family):
    prefix, _ = family
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    assert len(found) == 5
    expected = sorted(found, key=lambda e: (-e.creation_time, int(e.experiment_id)))
    assert [e.experiment_id for e in found] == [e.experiment_id for e in expected]


@pytest.mark.parametrize(
    "filter_suffix, order_by, expected",
    [
        ("", ["name ASC"], ["0", "1", "2", "3", "4"]),
        ("", ["name DESC"], ["4", "3", "2", "1", "0"]),
        ("", ["experiment_id DESC"], ["4", "3", "2", "1", "0"]),
        ("", ["creation_time ASC", "name DESC"], None),
        (" AND tags.grp = 'even'", ["name DESC"], ["4", "2", "0"]),
        (" AND tags.grp != 'even'", ["name ASC"], ["1", "3"]),
        (" AND tags.idx LIKE '%3'", ["name ASC"], ["3"]),
        (" AND tags.grp ILIKE 'ODD'", ["name ASC"], ["1", "3"]),
        (" AND tags.missing IS NULL", ["name ASC"], ["0", "1", "2", "3", "4"]),
        (" AND tags.idx IS NOT NULL", ["name ASC"], ["0", "1", "2", "3", "4"]),
    ],
)
def test_search_experiments_filter_and_order(client, family, filter_suffix, order_by, expected):
    prefix, _ = family
    found = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'{filter_suffix}", order_by=order_by
    )
    if expected is None:  # creation_time ties are possible: check the rule instead
        expected = _suffixes(
            sorted(sorted(found, key=lambda e: e.name, reverse=True), key=lambda e: e.creation_time)
        )
    assert _suffixes(found) == expected, (filter_suffix, order_by)


def test_search_experiments_by_exact_name_and_id(client, family):
    prefix, ids = family
    assert _suffixes(client.search_experiments(filter_string=f"name = '{prefix}-2'")) == ["2"]
    # Note the singular: MLflow's experiment filter knows "attribute." (or no
    # prefix) but not "attributes.", unlike the run filter.
    for prefix_ in ("", "attribute."):
        found = client.search_experiments(
            filter_string=f"{prefix_}experiment_id IN ('{ids[1]}', '{ids[3]}')",
            order_by=["name ASC"],
        )
        assert _suffixes(found) == ["1", "3"], prefix_


def test_search_experiments_view_type(client, family):
    prefix, ids = family
    client.delete_experiment(ids[1])
    client.delete_experiment(ids[4])
    flt = f"name LIKE '{prefix}-%'"

    def names(view_type):
        return _suffixes(
            client.search_experiments(view_type=view_type, filter_string=flt, order_by=["name ASC"])
        )

    assert names(ViewType.ACTIVE_ONLY) == ["0", "2", "3"]
    assert names(ViewType.DELETED_ONLY) == ["1", "4"]
    assert names(ViewType.ALL) == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("page_size", [1, 2, 4])
def test_search_experiments_paging_walks_everything_once(client, family, page_size):
    prefix, _ = family
    pages = walk_pages(
        lambda **kw: client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"], **kw
        ),
        page_size,
    )
    assert all(len(p) == page_size for p in pages[:-1])
    assert 1 <= len(pages[-1]) <= page_size
    walked = [s for page in pages for s in _suffixes(page)]
    assert walked == ["0", "1", "2", "3", "4"], f"pages: {[_suffixes(p) for p in pages]}"


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"order_by": ["bogus"]}, search_error("Invalid attribute key 'bogus'")),
        ({"filter_string": "name = "}, search_error("Invalid clause(s) in filter string")),
        ({"filter_string": "name = 'x'", "page_token": "zzz"}, "Invalid page token"),
        ({"max_results": 50001}, "It must be at most 50000"),
    ],
)
def test_search_experiments_bad_arguments_are_invalid_parameter_value(client, kwargs, fragment):
    with raises_mlflow("INVALID_PARAMETER_VALUE", fragment):
        client.search_experiments(**kwargs)


def test_experiment_name_limit_is_500_chars_and_blank_is_rejected(client, unique_name):
    stem = unique_name()
    at_limit = stem + "n" * (500 - len(stem))
    eid = client.create_experiment(at_limit)
    assert client.get_experiment(eid).name == at_limit
    with raises_mlflow("INVALID_PARAMETER_VALUE", "'name' exceeds the maximum length of 500"):
        client.create_experiment(at_limit + "n")
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'"):
        client.create_experiment("")


def test_experiment_tag_value_over_20000_chars_is_rejected_not_truncated(client, experiment_id):
    # Unlike run params/tags, experiment tag values are not truncated.
    client.set_experiment_tag(experiment_id, "ok", "v" * 20000)
    assert len(client.get_experiment(experiment_id).tags["ok"]) == 20000
    with raises_mlflow("INVALID_PARAMETER_VALUE", "'value' exceeds the maximum length of 20000"):
        client.set_experiment_tag(experiment_id, "big", "v" * 20001)
    assert "big" not in client.get_experiment(experiment_id).tags


def test_deleting_a_deleted_or_restoring_an_active_experiment_is_resource_does_not_exist(
    client, experiment_id
):
    # MLflow looks the experiment up in the "wrong" lifecycle stage and
    # reports it as missing.
    msg = f"No Experiment with id={experiment_id} exists"
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", msg):
        client.restore_experiment(experiment_id)
    client.delete_experiment(experiment_id)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", msg):
        client.delete_experiment(experiment_id)
