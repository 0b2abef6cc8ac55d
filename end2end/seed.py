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
