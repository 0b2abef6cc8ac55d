"""Param immutability and input length limits (keys, param and tag values)."""

import pytest
from mlflow.entities import Param, RunTag

from compat_helpers import raises_mlflow

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000


def test_relogging_a_param_with_the_same_value_is_accepted(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    client.log_param(run_id, "p", "1")
    client.log_batch(run_id, params=[Param("p", "1")])
    assert client.get_run(run_id).data.params == {"p": "1"}


def test_changing_a_param_value_is_invalid_parameter_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    with raises_mlflow(
        "INVALID_PARAMETER_VALUE",
        "Changing param values is not allowed. Param with key='p' was already logged "
        f"with value='1' for run ID='{run_id}'. Attempted logging new value '2'.",
    ):
        client.log_param(run_id, "p", "2")
    assert client.get_run(run_id).data.params == {"p": "1"}


def test_changing_a_param_value_through_log_batch_is_invalid_parameter_value(
    client, experiment_id
):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Changing param values is not allowed"):
        client.log_batch(run_id, params=[Param("p", "changed")])
    assert client.get_run(run_id).data.params == {"p": "1"}


@pytest.mark.parametrize(
    "log, entity",
    [
        pytest.param(lambda c, r, k: c.log_param(r, k, "v"), "Param key", id="param"),
        pytest.param(lambda c, r, k: c.log_metric(r, k, 1.0), "Metric name", id="metric"),
        pytest.param(lambda c, r, k: c.set_tag(r, k, "v"), "key", id="tag"),
    ],
)
def test_keys_longer_than_250_chars_are_rejected(client, experiment_id, log, entity):
    run_id = client.create_run(experiment_id).info.run_id
    with raises_mlflow(
        "INVALID_PARAMETER_VALUE", f"'{entity}' exceeds the maximum length of {MAX_KEY} characters"
    ):
        log(client, run_id, "k" * (MAX_KEY + 1))
    # Exactly at the limit is fine.
    log(client, run_id, "k" * MAX_KEY)
    data = client.get_run(run_id).data
    stored = set(data.params) | set(data.metrics) | set(data.tags)
    assert "k" * MAX_KEY in stored
    assert "k" * (MAX_KEY + 1) not in stored


def test_long_key_in_log_batch_is_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE", "exceeds the maximum length of 250"):
        client.log_batch(run_id, params=[Param("k" * (MAX_KEY + 1), "v")])


def test_param_value_of_exactly_6000_chars_is_stored_unchanged(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "abcdefghij" * (MAX_PARAM_VALUE // 10)
    client.log_param(run_id, "p", value)
    assert client.get_run(run_id).data.params["p"] == value


def test_param_value_over_6000_chars_is_silently_truncated_to_6000(client, experiment_id):
    # MLflow (MLFLOW_TRUNCATE_LONG_VALUES, default on) truncates instead of
    # rejecting; the client does not validate, the server does.
    run_id = client.create_run(experiment_id).info.run_id
    value = "0123456789" * 700  # 7000 chars
    client.log_param(run_id, "p", value)
    stored = client.get_run(run_id).data.params["p"]
    assert len(stored) == MAX_PARAM_VALUE, f"stored length {len(stored)}"
    assert stored == value[:MAX_PARAM_VALUE]


def test_param_value_over_6000_chars_in_log_batch_is_truncated_too(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "x" * (MAX_PARAM_VALUE + 1)
    client.log_batch(run_id, params=[Param("p", value)])
    assert client.get_run(run_id).data.params["p"] == value[:MAX_PARAM_VALUE]


def test_relogging_an_overlong_param_value_counts_as_the_same_value(client, experiment_id):
    # Truncation happens before the immutability check, so logging the same
    # long value again is not a "change".
    run_id = client.create_run(experiment_id).info.run_id
    value = "y" * (MAX_PARAM_VALUE + 500)
    client.log_param(run_id, "p", value)
    client.log_param(run_id, "p", value)
    assert client.get_run(run_id).data.params["p"] == value[:MAX_PARAM_VALUE]


def test_tag_value_over_8000_chars_is_silently_truncated_to_8000(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "t" * (MAX_TAG_VALUE + 1)
    client.set_tag(run_id, "long", value)
    client.log_batch(run_id, tags=[RunTag("long-batch", value)])
    tags = client.get_run(run_id).data.tags
    assert tags["long"] == value[:MAX_TAG_VALUE], f"stored length {len(tags['long'])}"
    assert tags["long-batch"] == value[:MAX_TAG_VALUE]


@pytest.mark.parametrize("bad_key", ["bad*key", "../escape", "/leading"])
def test_invalid_key_characters_and_paths_are_rejected(client, experiment_id, bad_key):
    run_id = client.create_run(experiment_id).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, bad_key, "v")
    assert client.get_run(run_id).data.params == {}
