"""What the real mlflow client does with ferroflow's answers to hostile input: an
oversized request is refused with 413 and MLflow's error JSON, which the client raises at
once as an MlflowException (no Retry-After, so urllib3 does not retry it), and a filter
built to break out of its SQL string is a filter like any other."""

import re

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import call_endpoint
from mlflow.protos.service_pb2 import SetTag
from mlflow.utils.credentials import get_default_host_creds


def _count_413(base_url):
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ferroflow_http_requests_total") and 'status="413"' in line
    )


@pytest.mark.ferroflow_only
def test_oversized_request_raises_at_once_without_retries(client, experiment_id, base_url, monkeypatch):
    # Retries on, as a user would have them: a 413 must still be tried once only.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    run = client.create_run(experiment_id)
    before = _count_413(base_url)
    body = '{"run_id": "%s", "key": "big", "value": "%s"}' % (run.info.run_id, "x" * (33 * 1024 * 1024))
    with pytest.raises(MlflowException) as raised:
        call_endpoint(get_default_host_creds(base_url), "/api/2.0/mlflow/runs/set-tag", "POST", body, SetTag.Response())
    assert raised.value.error_code == "BAD_REQUEST"
    assert re.search(r"too large.*32 MiB", str(raised.value))
    assert _count_413(base_url) - before == 1
    assert "big" not in client.get_run(run.info.run_id).data.tags


@pytest.mark.parametrize(
    "filter_string",
    [
        "tags.t = 'x'' OR ''1''=''1'",
        "params.p = 'x\\' OR 1=1 --'",
        "attributes.run_name = 'x''; DROP TABLE runs; --'",
        "tags.`x'); DROP TABLE runs; --` = 'v'",
    ],
)
def test_injection_filters_match_nothing_and_break_nothing(client, experiment_id, filter_string):
    run = client.create_run(experiment_id, tags={"t": "v"})
    client.log_param(run.info.run_id, "p", "v")
    try:
        found = client.search_runs([experiment_id], filter_string=filter_string)
        assert [r.info.run_id for r in found] == []
    except MlflowException as e:
        assert e.error_code == "INVALID_PARAMETER_VALUE"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run.info.run_id]
