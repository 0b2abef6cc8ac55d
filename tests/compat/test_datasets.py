"""log_input: dataset inputs attached to runs, read back field by field."""

import json
import warnings

import mlflow
import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _quiet_dataset_warnings():
    # Schema inference warns about integer columns, and mlflow's digest code
    # trips a pandas 4 deprecation warning; neither is about the server.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pandas4 = getattr(pd.errors, "Pandas4Warning", None)
        if pandas4 is not None:
            warnings.simplefilter("ignore", pandas4)
        yield


def _inputs_by_name(client, run_id):
    return {di.dataset.name: di for di in client.get_run(run_id).inputs.dataset_inputs}


def test_numpy_dataset_input_reads_back_with_context_and_tags(client, experiment_id):
    features = np.arange(10, dtype=np.int64).reshape(5, 2)
    dataset = mlflow.data.from_numpy(features, source="s3://bucket/features.npy", name="feats")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})

    inputs = _inputs_by_name(client, run.info.run_id)
    assert list(inputs) == ["feats"]
    got = inputs["feats"]
    # Everything the client computed is stored verbatim by the server.
    assert got.dataset.digest == dataset.digest
    assert got.dataset.source_type == "s3"
    assert json.loads(got.dataset.source) == {"uri": "s3://bucket/features.npy"}
    assert json.loads(got.dataset.schema) == json.loads(dataset._to_mlflow_entity().schema)
    assert json.loads(got.dataset.profile) == {
        "features_shape": [5, 2],
        "features_size": 10,
        "features_nbytes": 80,
    }
    assert {t.key: t.value for t in got.tags} == {
        "split": "train",
        "mlflow.data.context": "training",
    }


def test_pandas_dataset_input_reads_back(client, experiment_id):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    dataset = mlflow.data.from_pandas(frame, source="file:///tmp/data.csv", name="frame", targets="a")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="eval")

    got = _inputs_by_name(client, run.info.run_id)["frame"]
    entity = dataset._to_mlflow_entity()
    assert got.dataset.digest == entity.digest
    assert got.dataset.source_type == entity.source_type == "local"
    assert got.dataset.source == entity.source
    assert json.loads(got.dataset.schema) == {
        "mlflow_colspec": [
            {"type": "long", "name": "a", "required": True},
            {"type": "string", "name": "b", "required": True},
        ]
    }
    assert json.loads(got.dataset.profile) == {"num_rows": 3, "num_elements": 6}
    assert {t.key: t.value for t in got.tags} == {"mlflow.data.context": "eval"}


def test_several_inputs_on_one_run_and_relogging_is_idempotent(client, experiment_id):
    one = mlflow.data.from_numpy(np.zeros((2, 2)), source="s3://b/one.npy", name="one")
    two = mlflow.data.from_numpy(np.ones((3, 1)), source="s3://b/two.npy", name="two")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(one, context="training")
        mlflow.log_input(two, context="validation")
        mlflow.log_input(one, context="training")  # same dataset again

    inputs = _inputs_by_name(client, run.info.run_id)
    assert sorted(inputs) == ["one", "two"]
    assert len(client.get_run(run.info.run_id).inputs.dataset_inputs) == 2, "no duplicate input"
    assert inputs["one"].dataset.digest == one.digest
    assert inputs["two"].dataset.digest == two.digest


def test_search_runs_filters_on_dataset_fields(client, experiment_id):
    frame = pd.DataFrame({"v": [1.0, 2.0]})
    dataset = mlflow.data.from_pandas(frame, source="file:///tmp/v.csv", name="vals")
    with mlflow.start_run(experiment_id=experiment_id, run_name="with-data") as run:
        mlflow.log_input(dataset, context="training")
    with mlflow.start_run(experiment_id=experiment_id, run_name="without-data"):
        pass

    def found(filter_string):
        return [r.info.run_id for r in client.search_runs([experiment_id], filter_string)]

    assert found("datasets.name = 'vals'") == [run.info.run_id]
    assert found(f"datasets.digest = '{dataset.digest}'") == [run.info.run_id]
    assert found("datasets.context = 'training'") == [run.info.run_id]
    assert found("datasets.name = 'nope'") == []


def test_run_without_inputs_has_empty_dataset_inputs(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    assert client.get_run(run_id).inputs.dataset_inputs == []
