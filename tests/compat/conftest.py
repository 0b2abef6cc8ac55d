"""Fixtures for the MLflow-client compatibility suite.

The suite drives the real ``mlflow`` Python client against the tracking server
named by ``FERROFLOW_URL``. It is validated against MLflow's own server
(``run_against_mlflow.sh`` sets ``FERROFLOW_COMPAT_REFERENCE=1``), so every
assertion outside ``@pytest.mark.ferroflow_only`` describes what real MLflow
does.

Every test works inside its own freshly created, uniquely named experiment, so
tests are independent of each other and of whatever data the server already
holds.
"""

import os
import re
import uuid

import pytest

# The client reads these at import time / first request, so they are set
# before mlflow is imported anywhere in the test session.
_URL = os.environ.get("FERROFLOW_URL", "").rstrip("/")
if _URL:
    os.environ["MLFLOW_TRACKING_URI"] = _URL
# No retry storms: a failing request must fail the test quickly rather than
# back off for minutes (the client's default is 7 retries with backoff 2).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# Synchronous logging, so a value is on the server when log_* returns.
os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
# System metrics would start a background thread per run; not under test.
os.environ["MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"] = "false"

import mlflow  # noqa: E402
import requests  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

REFERENCE_MODE = os.environ.get("FERROFLOW_COMPAT_REFERENCE") == "1"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "ferroflow_only: behaviour ferroflow accepts as an extension but MLflow "
        "refuses; skipped when FERROFLOW_COMPAT_REFERENCE=1",
    )


def pytest_collection_modifyitems(config, items):
    if not REFERENCE_MODE:
        return
    skip = pytest.mark.skip(
        reason="ferroflow extension; MLflow's own server refuses it "
        "(FERROFLOW_COMPAT_REFERENCE=1)"
    )
    for item in items:
        if "ferroflow_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    mode = "reference (MLflow's own server)" if REFERENCE_MODE else "ferroflow"
    return [
        f"compat target: {_URL or '<FERROFLOW_URL not set>'} [{mode}]",
        f"mlflow client: {mlflow.__version__}",
    ]


@pytest.fixture(scope="session")
def base_url():
    """Root URL of the server under test; fails the session early if unreachable."""
    if not _URL:
        pytest.exit("FERROFLOW_URL is not set (e.g. http://127.0.0.1:5000)", returncode=2)
    try:
        resp = requests.get(f"{_URL}/health", timeout=10)
    except requests.RequestException as exc:
        pytest.exit(f"server at {_URL} is unreachable: {exc}", returncode=2)
    if resp.status_code != 200:
        pytest.exit(f"{_URL}/health answered {resp.status_code}: {resp.text[:200]}", returncode=2)
    return _URL


@pytest.fixture(scope="session")
def api(base_url):
    """Thin raw-HTTP helper for wire-format checks the client would hide.

    ``api.get("runs/get", run_id=...)`` and ``api.post("runs/search", {...})``
    hit ``/api/2.0/mlflow/<path>`` and return the ``requests.Response``.
    """

    class Api:
        prefix = f"{base_url}/api/2.0/mlflow"
        ajax_prefix = f"{base_url}/ajax-api/2.0/mlflow"

        def get(self, path, prefix=None, **params):
            return requests.get(f"{prefix or self.prefix}/{path}", params=params, timeout=30)

        def post(self, path, body, prefix=None):
            return requests.post(f"{prefix or self.prefix}/{path}", json=body, timeout=30)

    return Api()


@pytest.fixture(scope="session")
def client(base_url):
    return MlflowClient(tracking_uri=base_url)


@pytest.fixture
def unique_name(request):
    """Factory for names that are unique across runs of the suite.

    Names embed the test name so leftover data on a server is easy to trace.
    """
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:80]
    token = uuid.uuid4().hex[:10]

    def make(suffix=""):
        return f"compat-{stem}-{token}{'-' + suffix if suffix else ''}"

    return make


@pytest.fixture
def experiment_id(client, unique_name):
    """A fresh experiment for the current test."""
    return client.create_experiment(unique_name())


@pytest.fixture(autouse=True)
def _no_leaked_fluent_runs():
    """A failed test must not leave an active fluent run for the next one."""
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
