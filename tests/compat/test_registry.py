"""The model registry and MLflow 3.x logged models through the real client:
log_model with registration, aliases, models:/ URIs, search, stages, tags,
renames and deletes."""

import json
import uuid

import mlflow
import numpy as np
import pytest
from compat_helpers import raises_mlflow
from mlflow.entities.model_registry import ModelVersion
from sklearn.linear_model import LogisticRegression

# Stages are deprecated in the client (but still served); their warnings are noise here.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def make_version(client, name, run_id=None, description=None, tags=None):
    if run_id is None:
        experiment = client.create_experiment(f"{name}-exp-{uuid.uuid4().hex[:8]}")
        run_id = client.create_run(experiment).info.run_id
    return client.create_model_version(
        name, f"runs:/{run_id}/model", run_id=run_id, description=description, tags=tags
    )


def test_log_model_register_alias_and_load(client, experiment_id, unique_name, trained):
    model, X = trained
    name = unique_name("model")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
    assert str(info.registered_model_version) == "1"
    logged = client.get_logged_model(info.model_id)
    assert logged.status.to_int() == 2  # LOGGED_MODEL_READY
    assert logged.source_run_id == run.info.run_id
    assert logged.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    )
    assert {"name": name, "version": "1"} in json.loads(logged.tags["mlflow.modelVersions"])
    run_outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in run_outputs] == [info.model_id]

    client.set_registered_model_alias(name, "champion", "1")
    mv = client.get_model_version_by_alias(name, "champion")
    assert mv.version == "1" and mv.aliases == ["champion"]
    assert mv.run_id == run.info.run_id
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert (loaded.predict(X) == model.predict(X)).all()
    by_version = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert (by_version.predict_proba(X) == model.predict_proba(X)).all()
    assert client.get_model_version_download_uri(name, "1") == logged.artifact_location
    # The run's model is reachable through runs:/ too (the client finds it by name).
    assert "MLmodel" in [a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "model")]


def test_registered_model_lifecycle(client, unique_name):
    name = unique_name("rm")
    rm = client.create_registered_model(name, tags={"team": "a"}, description="first")
    assert rm.name == name and rm.description == "first" and rm.tags == {"team": "a"}
    with raises_mlflow("RESOURCE_ALREADY_EXISTS", "already exists"):
        client.create_registered_model(name)
    client.update_registered_model(name, description="second")
    client.set_registered_model_tag(name, "stage", "dev")
    client.delete_registered_model_tag(name, "team")
    client.delete_registered_model_tag(name, "never-set")
    got = client.get_registered_model(name)
    assert got.description == "second" and got.tags == {"stage": "dev"}
    assert got.creation_timestamp <= got.last_updated_timestamp

    v1 = make_version(client, name)
    v2 = make_version(client, name)
    assert (v1.version, v2.version) == ("1", "2")
    client.set_registered_model_alias(name, "prod", "2")
    client.rename_registered_model(name, name + "-new")
    assert client.get_registered_model(name + "-new").name == name + "-new"
    mv = client.get_model_version(name + "-new", "2")
    assert mv.name == name + "-new" and mv.aliases == ["prod"]
    assert {a: v for a, v in client.get_registered_model(name + "-new").aliases.items()} == {"prod": "2"}
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)

    client.delete_registered_model(name + "-new")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", "not found"):
        client.get_registered_model(name + "-new")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name + "-new", "1")


def test_rename_to_taken_name_is_refused(client, unique_name):
    a, b = unique_name("a"), unique_name("b")
    client.create_registered_model(a)
    client.create_registered_model(b)
    with raises_mlflow("RESOURCE_ALREADY_EXISTS", "already exists"):
        client.rename_registered_model(a, b)


def test_versions_deleted_are_hidden_and_numbers_not_reused(client, unique_name):
    name = unique_name("mv")
    client.create_registered_model(name)
    for _ in range(3):
        make_version(client, name)
    client.set_registered_model_alias(name, "best", "3")
    client.delete_model_version(name, "3")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version=3) not found"):
        client.get_model_version(name, "3")
    with raises_mlflow("INVALID_PARAMETER_VALUE", "alias best not found"):
        client.get_model_version_by_alias(name, "best")
    assert make_version(client, name).version == "4"
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in versions) == ["1", "2", "4"]
    latest = client.get_latest_versions(name)
    assert [(v.version, v.current_stage) for v in latest] == [("4", "None")]


def test_model_version_update_tags_and_errors(client, unique_name):
    name = unique_name("mvt")
    client.create_registered_model(name)
    mv = make_version(client, name, description="d1", tags={"a": "1"})
    assert mv.description == "d1" and mv.tags == {"a": "1"} and mv.status == "READY"
    client.update_model_version(name, "1", description="d2")
    client.set_model_version_tag(name, "1", "b", "2")
    client.delete_model_version_tag(name, "1", "a")
    got = client.get_model_version(name, "1")
    assert got.description == "d2" and got.tags == {"b": "2"}
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", "not found"):
        client.get_model_version(name, "9")
    with raises_mlflow("INVALID_PARAMETER_VALUE", "must be an integer"):
        client.get_model_version(name, "x")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST", "not found"):
        client.get_registered_model(unique_name("missing"))
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.create_model_version(unique_name("missing"), "s3://bucket/x")


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V12", "bad alias", "a/b"])
def test_bad_aliases_are_refused(client, unique_name, alias):
    name = unique_name("al")
    client.create_registered_model(name)
    make_version(client, name)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_alias(name, alias, "1")


def test_alias_errors(client, unique_name):
    name = unique_name("al")
    client.create_registered_model(name)
    make_version(client, name)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_alias(name, "x", "5")
    client.set_registered_model_alias(name, "x", "1")
    client.delete_registered_model_alias(name, "x")
    client.delete_registered_model_alias(name, "never")
    with raises_mlflow("INVALID_PARAMETER_VALUE", "alias x not found"):
        client.get_model_version_by_alias(name, "x")
    # `latest` resolves to the newest version.
    make_version(client, name)
    assert client.get_model_version_by_alias(name, "latest").version == "2"


def test_stage_transitions_archive_existing(api, client, unique_name):
    name = unique_name("st")
    client.create_registered_model(name)
    for _ in range(3):
        make_version(client, name)
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "staging")
    mv = client.transition_model_version_stage(name, "3", "production", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name = '{name}'")}
    assert stages == {"1": "Archived", "2": "Staging", "3": "Production"}
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Staging": "2", "Production": "3"}
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["3"]
    rm = client.get_registered_model(name)
    assert sorted((v.current_stage, v.version) for v in rm.latest_versions) == [
        ("Archived", "1"),
        ("Production", "3"),
        ("Staging", "2"),
    ]
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid Model Version stage"):
        client.transition_model_version_stage(name, "1", "Nowhere")
    # MLflow raises this without an error code: INTERNAL_ERROR, which the client retries,
    # so it is checked on the wire.
    r = api.post(
        "model-versions/transition-stage",
        {"name": name, "version": "1", "stage": "Archived", "archive_existing_versions": True},
    )
    assert r.status_code == 500 and "not an Active stage" in r.json()["message"]


def test_search_registered_models(client, unique_name):
    prefix = unique_name("srm")
    for suffix, team in [("alpha", "x"), ("beta", "y"), ("gamma", "x")]:
        client.create_registered_model(f"{prefix}-{suffix}", tags={"team": team})
    found = client.search_registered_models(f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == [f"{prefix}-alpha", f"{prefix}-beta", f"{prefix}-gamma"]
    found = client.search_registered_models(
        f"name LIKE '{prefix}-%' AND tags.team = 'x'", order_by=["name DESC"]
    )
    assert [m.name for m in found] == [f"{prefix}-gamma", f"{prefix}-alpha"]
    found = client.search_registered_models(f"name ILIKE '{prefix.upper()}-B%'")
    assert [m.name for m in found] == [f"{prefix}-beta"]
    found = client.search_registered_models(f"name IN ('{prefix}-alpha', '{prefix}-gamma')")
    assert len(found) == 2
    page = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_registered_models(
        f"name LIKE '{prefix}-%'", max_results=2, page_token=page.token
    )
    assert [m.name for m in rest] == [f"{prefix}-gamma"] and not rest.token
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_registered_models("run_id = 'x'")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_registered_models(order_by=["creation_timestamp"])


def test_search_model_versions(client, unique_name):
    name = unique_name("smv")
    client.create_registered_model(name)
    exp = client.create_experiment(name + "-exp")
    run_a = client.create_run(exp).info.run_id
    run_b = client.create_run(exp).info.run_id
    make_version(client, name, run_id=run_a, tags={"k": "v1"})
    make_version(client, name, run_id=run_b, tags={"k": "v2"})
    make_version(client, name, run_id=run_a)
    found = client.search_model_versions(f"name = '{name}' AND run_id = '{run_a}'")
    assert sorted(v.version for v in found) == ["1", "3"]
    found = client.search_model_versions(f"name = '{name}' AND tags.k = 'v2'")
    assert [v.version for v in found] == ["2"]
    found = client.search_model_versions(f"name = '{name}' AND version_number >= 2")
    assert sorted(v.version for v in found) == ["2", "3"]
    found = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in found] == ["1", "2", "3"]
    found = client.search_model_versions(f"name = '{name}' AND source_path LIKE 'runs:/{run_b}%'")
    assert [v.version for v in found] == ["2"]
    found = client.search_model_versions(f"run_id IN ('{run_b}')")
    assert [(v.name, v.version) for v in found] == [(name, "2")]
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_model_versions("metrics.x > 1")


def test_model_version_sources_are_checked(client, unique_name):
    name = unique_name("src")
    client.create_registered_model(name)
    exp = client.create_experiment(name + "-exp")
    run_id = client.create_run(exp).info.run_id
    other = client.create_run(exp).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid model version source"):
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=other)
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid model version source"):
        client.create_model_version(name, "/etc/passwd", run_id=run_id)
    with raises_mlflow("INVALID_PARAMETER_VALUE", "Invalid model version source"):
        client.create_model_version(name, f"mlflow-artifacts:/{exp}/{other}/artifacts/model", run_id=run_id)
    ok = client.create_model_version(
        name, f"mlflow-artifacts:/{exp}/{run_id}/artifacts/model", run_id=run_id
    )
    assert isinstance(ok, ModelVersion) and ok.version == "1"
    assert client.get_model_version_download_uri(name, "1") == f"mlflow-artifacts:/{exp}/{run_id}/artifacts/model"
