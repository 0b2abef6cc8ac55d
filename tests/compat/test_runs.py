"""Run creation, logging through the fluent API and MlflowClient, run lifecycle."""

import time

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag

from compat_helpers import MISSING_RUN_ID, assert_metric_points, raises_mlflow


def test_fluent_run_logs_params_metrics_and_tags_value_by_value(client, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id, run_name="fluent") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"beta": 3, "gamma": "text", "flag": True})
        mlflow.log_metric("loss", 1.25, step=3, timestamp=1_700_000_000_000)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=4, timestamp=1_700_000_000_123)
        mlflow.set_tag("team", "ferro")
        mlflow.set_tags({"stage": "dev", "num": 7})
        run_id = run.info.run_id

    got = client.get_run(run_id)
    # Params and tags are strings on the wire; the client stringifies with str().
    assert got.data.params == {"alpha": "0.5", "beta": "3", "gamma": "text", "flag": "True"}
    assert got.data.metrics == {"loss": 1.25, "acc": 0.75, "f1": 0.5}
    user_tags = {k: v for k, v in got.data.tags.items() if not k.startswith("mlflow.")}
    assert user_tags == {"team": "ferro", "stage": "dev", "num": "7"}
    assert got.data.tags["mlflow.runName"] == "fluent"
    assert got.info.run_name == "fluent"
    assert got.info.experiment_id == experiment_id

    assert_metric_points(client.get_metric_history(run_id, "loss"), [(1.25, 1_700_000_000_000, 3)])
    assert_metric_points(client.get_metric_history(run_id, "acc"), [(0.75, 1_700_000_000_123, 4)])
    assert_metric_points(client.get_metric_history(run_id, "f1"), [(0.5, 1_700_000_000_123, 4)])


def test_fluent_run_sends_client_context_tags_and_user_id(client, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        pass
    got = client.get_run(run.info.run_id)
    tags = got.data.tags
    for key in ("mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName"):
        assert key in tags, f"tag {key} missing from {sorted(tags)}"
    # The client derives user_id from the mlflow.user tag it sends.
    assert got.info.user_id == tags["mlflow.user"]
    # Without run_name the server stores the generated name in both places.
    assert got.info.run_name == tags["mlflow.runName"] and got.info.run_name


def test_metric_without_explicit_step_and_timestamp_gets_step_zero_and_current_time(
    client, experiment_id
):
    before = int(time.time() * 1000)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("m", 2.0)
    after = int(time.time() * 1000)
    (point,) = client.get_metric_history(run.info.run_id, "m")
    assert point.step == 0
    assert before <= point.timestamp <= after, (before, point.timestamp, after)


def test_end_run_marks_run_finished_with_end_time(client, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        assert client.get_run(run.info.run_id).info.status == "RUNNING"
        assert client.get_run(run.info.run_id).info.end_time is None
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time


def test_explicit_end_run_status_is_stored(client, experiment_id):
    run = mlflow.start_run(experiment_id=experiment_id)
    mlflow.end_run(status="KILLED")
    got = client.get_run(run.info.run_id)
    assert got.info.status == "KILLED"
    assert got.info.end_time is not None


def test_exception_inside_run_context_marks_run_failed(client, experiment_id):
    with pytest.raises(RuntimeError):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            raise RuntimeError("boom")
    assert client.get_run(run.info.run_id).info.status == "FAILED"


def test_nested_run_records_parent_run_id_tag(client, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as parent:
        with mlflow.start_run(experiment_id=experiment_id, nested=True) as child:
            pass
    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(parent.info.run_id).data.tags
    assert client.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    # Children are found by searching on the tag.
    found = client.search_runs(
        [experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]


def test_client_create_run_uses_given_name_start_time_and_tags(client, experiment_id):
    run = client.create_run(
        experiment_id, start_time=1_600_000_000_000, tags={"k": "v"}, run_name="named"
    )
    got = client.get_run(run.info.run_id)
    assert got.info.start_time == 1_600_000_000_000
    assert got.info.run_name == "named"
    assert got.info.status == "RUNNING"
    assert got.info.lifecycle_stage == "active"
    assert got.info.end_time is None
    assert got.data.tags == {"k": "v", "mlflow.runName": "named"}
    # MlflowClient.create_run sends no mlflow.user tag, so the server's default applies.
    assert got.info.user_id == "unknown"


def test_log_batch_writes_metrics_params_and_tags_that_read_back_exactly(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("m", 1.5, 1000, 0),
            Metric("m", 2.5, 2000, 1),
            Metric("m", 0.5, 3000, 2),
            Metric("other", -3.0, 1500, 7),
        ],
        params=[Param("lr", "0.01"), Param("layers", "4")],
        tags=[RunTag("t1", "a"), RunTag("t2", "")],
    )
    got = client.get_run(run_id)
    assert got.data.metrics == {"m": 0.5, "other": -3.0}
    assert got.data.params == {"lr": "0.01", "layers": "4"}
    assert got.data.tags["t1"] == "a"
    assert got.data.tags["t2"] == "", "an empty tag value is stored, not dropped"
    assert_metric_points(
        client.get_metric_history(run_id, "m"), [(1.5, 1000, 0), (2.5, 2000, 1), (0.5, 3000, 2)]
    )
    assert_metric_points(client.get_metric_history(run_id, "other"), [(-3.0, 1500, 7)])


def test_log_batch_with_duplicate_param_keys_is_rejected_even_with_equal_values(
    client, experiment_id
):
    run_id = client.create_run(experiment_id).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Duplicate parameter keys"):
        client.log_batch(run_id, params=[Param("dup", "1"), Param("dup", "1")])
    assert client.get_run(run_id).data.params == {}


def test_set_tag_overwrites_previous_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "k", "first")
    client.set_tag(run_id, "k", "second")
    assert client.get_run(run_id).data.tags["k"] == "second"


def test_delete_tag_removes_it_and_missing_tag_is_resource_does_not_exist(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "keep", "1")
    client.set_tag(run_id, "drop", "2")
    client.delete_tag(run_id, "drop")
    tags = client.get_run(run_id).data.tags
    assert "drop" not in tags and tags["keep"] == "1"
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", "No tag with name: drop", run_id):
        client.delete_tag(run_id, "drop")


def test_set_terminated_sets_status_and_end_time(client, experiment_id):
    run_id = client.create_run(experiment_id, start_time=1_000).info.run_id
    client.set_terminated(run_id, status="KILLED", end_time=123_456)
    info = client.get_run(run_id).info
    assert (info.status, info.end_time) == ("KILLED", 123_456)


def test_set_terminated_defaults_to_finished_and_now(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    before = int(time.time() * 1000)
    client.set_terminated(run_id)
    info = client.get_run(run_id).info
    assert info.status == "FINISHED"
    assert info.end_time >= before - 1000, "end_time should be about now"


def test_update_run_renames_run_and_runname_tag(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="before").info.run_id
    client.update_run(run_id, name="after")
    got = client.get_run(run_id)
    assert got.info.run_name == "after"
    assert got.data.tags["mlflow.runName"] == "after"
    assert got.info.status == "RUNNING", "renaming must not change the status"


def test_update_run_status_only_keeps_name_and_end_time(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="stay").info.run_id
    client.set_terminated(run_id, status="FAILED", end_time=5_000)
    client.update_run(run_id, status="FINISHED")
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "stay"
    assert got.info.end_time == 5_000, "update_run without end_time leaves end_time alone"


def test_setting_runname_tag_renames_run(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="old").info.run_id
    client.set_tag(run_id, "mlflow.runName", "via-tag")
    assert client.get_run(run_id).info.run_name == "via-tag"


def test_delete_run_and_restore_run_round_trip(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    deleted = client.get_run(run_id)
    assert deleted.info.lifecycle_stage == "deleted"
    assert deleted.info.status == "RUNNING", "deleting is a lifecycle change, not a status change"
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_writes_to_a_deleted_run_are_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    with raises_mlflow("INVALID_PARAMETER_VALUE", f"The run {run_id} must be in the 'active' state"):
        client.log_metric(run_id, "m", 1.0)
    with raises_mlflow("INVALID_PARAMETER_VALUE", "must be in the 'active' state"):
        client.log_param(run_id, "p", "1")
    with raises_mlflow("INVALID_PARAMETER_VALUE", "must be in the 'active' state"):
        client.set_tag(run_id, "t", "1")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.get_run(MISSING_RUN_ID), id="get_run"),
        pytest.param(lambda c: c.log_metric(MISSING_RUN_ID, "m", 1.0), id="log_metric"),
        pytest.param(lambda c: c.log_param(MISSING_RUN_ID, "p", "1"), id="log_param"),
        pytest.param(lambda c: c.set_tag(MISSING_RUN_ID, "t", "1"), id="set_tag"),
        pytest.param(lambda c: c.delete_run(MISSING_RUN_ID), id="delete_run"),
        pytest.param(lambda c: c.update_run(MISSING_RUN_ID, status="FINISHED"), id="update_run"),
    ],
)
def test_unknown_run_id_is_resource_does_not_exist(client, call):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", f"Run with id={MISSING_RUN_ID} not found"):
        call(client)


def test_metric_history_of_unknown_run_is_empty_not_an_error(client, api):
    # MLflow does not check that the run exists here: 200 with {}.
    assert client.get_metric_history(MISSING_RUN_ID, "m") == []
    resp = api.get("metrics/get-history", run_id=MISSING_RUN_ID, metric_key="m")
    assert (resp.status_code, resp.json()) == (200, {})


def test_run_status_enum_values_round_trip(client, experiment_id):
    for status in ("SCHEDULED", "FAILED", "KILLED", "FINISHED", "RUNNING"):
        run_id = client.create_run(experiment_id).info.run_id
        client.update_run(run_id, status=status)
        assert client.get_run(run_id).info.status == status


def test_deleting_a_deleted_run_and_restoring_an_active_run_are_no_ops(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    client.delete_run(run_id)
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"


def test_run_name_conflicting_with_runname_tag_is_rejected(client, experiment_id):
    with raises_mlflow(
        "INVALID_PARAMETER_VALUE",
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
        "values (run_name='x', mlflow.runName='y').",
    ):
        client.create_run(experiment_id, run_name="x", tags={"mlflow.runName": "y"})
    # Agreeing values are fine.
    run = client.create_run(experiment_id, run_name="same", tags={"mlflow.runName": "same"})
    assert run.info.run_name == "same"


def test_negative_metric_timestamp_is_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Timestamp must be a nonnegative long"):
        client.log_metric(run_id, "m", 1.0, timestamp=-5)
    assert client.get_metric_history(run_id, "m") == []
