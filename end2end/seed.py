"""Seeds a ferroflow server for the browser tests, through the real mlflow client.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python end2end/seed.py
"""

from mlflow import MlflowClient

client = MlflowClient()
for name, team in (("e2e-vision", "cv"), ("e2e-nlp", "nlp")):
    experiment_id = client.create_experiment(name, tags={"team": team})
    for i in range(3):
        run = client.create_run(experiment_id, run_name=f"{team}-run-{i}")
        client.log_param(run.info.run_id, "lr", str(0.1 * (i + 1)))
        for step in range(10):
            client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1 + i), step=step)
        client.set_terminated(run.info.run_id)
print("seeded")

# The run page, plot, compare and registry tests (end2end/tests/run.spec.ts): one
# experiment with two runs that differ in one param, histories, tags, a description,
# artifacts (an image, a text file, a CSV in a folder) and a registered model version.
import struct
import tempfile
import zlib
from pathlib import Path


def png(width, height, rgb):
    """A solid-colour PNG, written by hand so the seed needs no imaging library."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


experiment_id = client.create_experiment("e2e-runpage")
run_ids = {}
for name, lr, scale in (("rp-alpha", "0.01", 1.0), ("rp-beta", "0.05", 2.0)):
    run = client.create_run(experiment_id, run_name=name, tags={"mlflow.note.content": f"The {name} run."})
    rid = run.info.run_id
    run_ids[name] = rid
    client.log_param(rid, "lr", lr)
    client.log_param(rid, "optimizer", "adam")
    client.set_tag(rid, "team", "runpage")
    for step in range(50):
        client.log_metric(rid, "rp_loss", scale / (step + 1), step=step, timestamp=1_700_000_000_000 + step * 1000)
        client.log_metric(rid, "rp_acc", 1 - 0.5 / (step + 1), step=step, timestamp=1_700_000_000_000 + step * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "plot.png").write_bytes(png(64, 32, (37, 99, 235)))
        (folder / "notes.txt").write_text(f"notes of {name}\nsecond line\n")
        (folder / "data").mkdir()
        (folder / "data" / "table.csv").write_text('epoch,loss,comment\n1,0.5,"first, quoted"\n2,0.25,second\n')
        client.log_artifacts(rid, str(folder))
    client.set_terminated(rid)
client.create_registered_model("rp-model", tags={"owner": "e2e"}, description="The run page's model.")
version = client.create_model_version("rp-model", f"runs:/{run_ids['rp-alpha']}/model", run_id=run_ids["rp-alpha"])
client.set_registered_model_alias("rp-model", "champion", version.version)
print("seeded the run page experiment")

# The runs grid: 60 runs in one experiment (50 top-level, 5 of them parents of 2 children
# each), with params, tags and metric histories whose last values are i / 100, so tests
# know what each filter, sort and page returns.
from mlflow.entities import Metric, Param, RunTag

grid_id = client.create_experiment("e2e-grid", tags={"team": "grid"})
base_time = 1_767_225_600_000  # 2026-01-01 00:00 UTC
runs = []
for i in range(60):
    parent = None
    if i >= 50:
        parent = runs[(i - 50) // 2]  # runs 0-4 get two children each
    tags = {"mlflow.user": "alice" if i % 2 == 0 else "bob", "team": "cv" if i % 3 else "nlp"}
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = client.create_run(
        grid_id, run_name=f"grid-run-{i:02d}", start_time=base_time + i * 60_000, tags=tags
    )
    run_id = run.info.run_id
    loss = [Metric("loss", round(1.0 + i / 100 - step / 10, 4), base_time + step, step) for step in range(10)]
    loss.append(Metric("loss", round(i / 100, 4), base_time + 10, 10))
    client.log_batch(
        run_id,
        metrics=loss + [Metric("acc", round(0.5 + i / 200, 4), base_time, 0)],
        params=[
            Param("lr", str([0.1, 0.01, 0.001][i % 3])),
            Param("optimizer", ["adam", "sgd", "it's quoted"][i % 3]),
        ],
        tags=[RunTag("mlflow.source.name", "train.py")],
    )
    client.set_terminated(run_id, status="FAILED" if i % 10 == 9 else "FINISHED", end_time=base_time + i * 60_000 + 5_000 + i * 1000)
    runs.append(run_id)
print("seeded the grid")
