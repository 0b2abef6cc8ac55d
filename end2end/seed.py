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
