"""Artifacts through the real client: log_artifact(s), list_artifacts,
download_artifacts, and the proxy endpoints the client uses underneath.

Run artifact URIs are ``mlflow-artifacts:/<exp>/<run>/artifacts`` on both
servers (MLflow with ``--serve-artifacts``, the default), so the client uploads
with PUT to ``/api/2.0/mlflow-artifacts/artifacts/...``.
"""

import filecmp
import os

import mlflow
import pytest
import requests


@pytest.fixture
def run_id(client, experiment_id):
    run = client.create_run(experiment_id)
    yield run.info.run_id


def test_new_experiments_get_served_locations(client, experiment_id):
    exp = client.get_experiment(experiment_id)
    assert exp.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"


def test_log_artifact_list_and_download(client, run_id, tmp_path):
    src = tmp_path / "hello.txt"
    src.write_text("hello artifacts\n")
    client.log_artifact(run_id, str(src))
    client.log_artifact(run_id, str(src), artifact_path="nested/dir")

    top = {f.path: f for f in client.list_artifacts(run_id)}
    assert set(top) == {"hello.txt", "nested"}
    assert not top["hello.txt"].is_dir and top["hello.txt"].file_size == len("hello artifacts\n")
    assert top["nested"].is_dir and top["nested"].file_size is None
    nested = client.list_artifacts(run_id, "nested/dir")
    assert [(f.path, f.is_dir) for f in nested] == [("nested/dir/hello.txt", False)]

    out = tmp_path / "out"
    out.mkdir()
    local = client.download_artifacts(run_id, "hello.txt", str(out))
    assert open(local).read() == "hello artifacts\n"
    # A directory downloads recursively.
    local_dir = client.download_artifacts(run_id, "nested", str(out))
    assert open(os.path.join(local_dir, "dir", "hello.txt")).read() == "hello artifacts\n"


def test_log_artifacts_of_a_folder_round_trips(client, run_id, tmp_path):
    src = tmp_path / "folder"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.json").write_text('{"a": 1}')
    (src / "sub" / "b.bin").write_bytes(os.urandom(70_000))
    (src / "sub" / "deeper" / "c.txt").write_text("c" * 10)
    (src / "empty.txt").write_text("")
    client.log_artifacts(run_id, str(src), artifact_path="folder")

    assert [f.path for f in client.list_artifacts(run_id, "folder")] == [
        "folder/a.json",
        "folder/empty.txt",
        "folder/sub",
    ]
    out = tmp_path / "out"
    out.mkdir()
    local = client.download_artifacts(run_id, "folder", str(out))
    cmp = filecmp.dircmp(str(src), local)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    assert filecmp.cmp(src / "sub" / "b.bin", os.path.join(local, "sub", "b.bin"), shallow=False)


def test_fluent_api_and_mlflow_artifacts_download(experiment_id, tmp_path):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_text("some text", "notes/readme.md")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
    uri = f"runs:/{run.info.run_id}/notes/readme.md"
    assert mlflow.artifacts.load_text(uri) == "some text"
    assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config.json") == {"k": [1, 2]}
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/notes", dst_path=str(tmp_path)
    )
    assert open(os.path.join(local, "readme.md")).read() == "some text"


def test_listing_missing_paths_is_empty(client, run_id):
    assert client.list_artifacts(run_id) == []
    assert client.list_artifacts(run_id, "no/such/dir") == []


def list_run(api, **params):
    return requests.get(f"{api.prefix}/artifacts/list", params=params, timeout=30)


def test_tracking_list_endpoint_shape(api, client, run_id, tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("12345")
    client.log_artifact(run_id, str(src), "d")
    body = list_run(api, run_id=run_id, path="d").json()
    assert body["root_uri"] == client.get_run(run_id).info.artifact_uri
    assert body["files"] == [{"path": "d/x.txt", "is_dir": False, "file_size": 5}]
    body = list_run(api, run_id=run_id).json()
    assert body["files"] == [{"path": "d", "is_dir": True}]


def test_proxy_upload_download_list_delete(base_url, experiment_id):
    root = f"{base_url}/api/2.0/mlflow-artifacts/artifacts"
    key = f"{experiment_id}/raw/artifacts"
    r = requests.put(f"{root}/{key}/a.txt", data=b"0123456789", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200
    r = requests.get(f"{root}/{key}/a.txt")
    assert r.status_code == 200 and r.content == b"0123456789"
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Content-Disposition"].startswith("attachment")
    r = requests.get(f"{root}/{key}/a.txt", headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == b"2345"
    assert r.headers["Content-Range"] == "bytes 2-5/10"
    r = requests.get(root, params={"path": key})
    assert r.json() == {"files": [{"path": "a.txt", "is_dir": False, "file_size": 10}]}
    r = requests.delete(f"{root}/{key}/a.txt")
    assert r.status_code == 200
    assert requests.get(root, params={"path": key}).json() == {}


@pytest.mark.parametrize(
    "path",
    ["../x", "a/../../x", "%2e%2e/x", "%252e%252e/x"],
)
def test_proxy_refuses_traversal(base_url, path):
    # The query-string listing is the route where nothing normalises the path first.
    r = requests.get(f"{base_url}/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Invalid path" in r.json()["message"]


@pytest.mark.parametrize("path", ["../../etc", "a/../../../x", "%2e%2e/x"])
def test_tracking_list_refuses_traversal(api, run_id, path):
    r = list_run(api, run_id=run_id, path=path)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Invalid path" in r.json()["message"]


def test_get_artifact_route(base_url, client, run_id, tmp_path):
    src = tmp_path / "model.pkl"
    src.write_bytes(b"\x00\x01binary")
    client.log_artifact(run_id, str(src))
    r = requests.get(f"{base_url}/get-artifact", params={"run_id": run_id, "path": "model.pkl"})
    assert r.status_code == 200 and r.content == b"\x00\x01binary"
    assert r.headers["Content-Disposition"].startswith("attachment")
    r = requests.get(f"{base_url}/get-artifact", params={"run_id": run_id, "path": "../secret"})
    assert r.status_code == 400
