"""What the client never shows: JSON encodings, status codes, error bodies.

These use plain HTTP because the client normalises the details away, yet
other clients (the UI, other languages) depend on them.
"""

import pytest

from compat_helpers import INF_ON_WIRE, MISSING_RUN_ID, NEG_INF_ON_WIRE


def _history(api, run_id, key):
    resp = api.get("metrics/get-history", run_id=run_id, metric_key=key)
    assert resp.status_code == 200, resp.text
    return resp.json()["metrics"]


def test_nan_and_infinities_on_the_wire(
    client, api, experiment_id
):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "nan", float("nan"), timestamp=1, step=0)
    client.log_metric(run_id, "inf", float("inf"), timestamp=1, step=0)
    client.log_metric(run_id, "ninf", float("-inf"), timestamp=1, step=0)
    assert _history(api, run_id, "nan") == [
        {"key": "nan", "value": "NaN", "timestamp": 1, "step": 0}
    ]
    assert _history(api, run_id, "inf") == [
        {"key": "inf", "value": INF_ON_WIRE, "timestamp": 1, "step": 0}
    ]
    assert _history(api, run_id, "ninf") == [
        {"key": "ninf", "value": NEG_INF_ON_WIRE, "timestamp": 1, "step": 0}
    ]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_special_float_strings_are_accepted_on_input(api, client, experiment_id, literal):
    run_id = client.create_run(experiment_id).info.run_id
    resp = api.post(
        "runs/log-metric",
        {"run_id": run_id, "key": "m", "value": literal, "timestamp": 5, "step": 1},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    (point,) = _history(api, run_id, "m")
    expected = {"NaN": "NaN", "Infinity": INF_ON_WIRE}.get(literal, NEG_INF_ON_WIRE)
    assert point["value"] == expected


def test_int64_fields_are_json_numbers_and_experiment_id_is_a_string(api, client, experiment_id):
    run_id = client.create_run(experiment_id, start_time=1_700_000_000_000).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=1_700_000_000_001, step=3)
    body = api.get("runs/get", run_id=run_id).json()["run"]
    info = body["info"]
    assert info["start_time"] == 1_700_000_000_000
    assert info["experiment_id"] == experiment_id
    assert isinstance(info["experiment_id"], str)
    assert info["run_id"] == info["run_uuid"] == run_id, "both id spellings are sent"
    assert info["status"] == "RUNNING", "enums are written by name"
    assert info["lifecycle_stage"] == "active"
    assert "end_time" not in info, "unset optional fields are omitted"
    (metric,) = body["data"]["metrics"]
    assert metric == {"key": "m", "value": 1.0, "timestamp": 1_700_000_000_001, "step": 3}


def test_error_body_has_error_code_and_message_with_http_status(api, client, unique_name):
    resp = api.get("runs/get", run_id=MISSING_RUN_ID)
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert body["message"] == f"Run with id={MISSING_RUN_ID} not found"

    name = unique_name()
    client.create_experiment(name)
    resp = api.post("experiments/create", {"name": name})
    assert resp.status_code == 400, "RESOURCE_ALREADY_EXISTS maps to 400, not 409"
    assert resp.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_get_experiment_by_name_for_missing_name_is_404(api, unique_name):
    name = unique_name("missing")
    resp = api.get("experiments/get-by-name", experiment_name=name)
    assert resp.status_code == 404
    assert resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert resp.json()["message"] == f"Could not find experiment with name '{name}'"


def test_ajax_api_serves_the_same_endpoints(api, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    direct = api.get("runs/get", run_id=run_id)
    ajax = api.get("runs/get", prefix=api.ajax_prefix, run_id=run_id)
    assert ajax.status_code == 200, ajax.text
    assert ajax.json() == direct.json()


def test_page_token_is_absent_on_the_last_page(api, client, experiment_id):
    for start in (1, 2, 3):
        client.create_run(experiment_id, start_time=start)
    first = api.post("runs/search", {"experiment_ids": [experiment_id], "max_results": 2}).json()
    assert len(first["runs"]) == 2 and first.get("next_page_token")
    second = api.post(
        "runs/search",
        {
            "experiment_ids": [experiment_id],
            "max_results": 2,
            "page_token": first["next_page_token"],
        },
    ).json()
    assert len(second["runs"]) == 1
    assert not second.get("next_page_token")


def test_search_runs_in_empty_experiment_returns_empty_object(api, experiment_id):
    resp = api.post("runs/search", {"experiment_ids": [experiment_id]})
    assert resp.status_code == 200
    assert resp.json().get("runs", []) == []
    assert not resp.json().get("next_page_token")


def test_search_experiments_max_results_must_be_positive(api):
    resp = api.post("experiments/search", {"max_results": 0})
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
