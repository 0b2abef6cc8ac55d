"""Small assertion helpers shared by the compatibility tests."""

import contextlib
import math
import os

import pytest
from mlflow.exceptions import MlflowException

# Well-formed run id that no server will ever have issued.
MISSING_RUN_ID = "0123456789abcdef0123456789abcdef"

# MLflow's SQL store clamps +/-inf to +/-DBL_MAX before storing, so that is
# what every read returns (not inf).
DBL_MAX = 1.7976931348623157e308

# Deliberate differences between ferroflow and MLflow, so that the same suite describes
# both servers (FERROFLOW_COMPAT_REFERENCE=1 means "this is MLflow's own server"):
# - infinities: MLflow clamps them to +/-DBL_MAX; ferroflow stores and returns them
#   ("Infinity" on the wire, float('inf') in the client), so nothing logged is altered.
# - restoring an experiment: MLflow also restores runs that were deleted on their own
#   before the experiment was; ferroflow restores only the runs deleted with it.
REFERENCE_MODE = os.environ.get("FERROFLOW_COMPAT_REFERENCE") == "1"
INF = DBL_MAX if REFERENCE_MODE else math.inf
INF_ON_WIRE = DBL_MAX if REFERENCE_MODE else "Infinity"
NEG_INF_ON_WIRE = -DBL_MAX if REFERENCE_MODE else "-Infinity"
# - malformed filters and order_by: ferroflow's messages name the position and what was
#   expected there, rather than MLflow's wording; both are INVALID_PARAMETER_VALUE.
POSITIONED = "at position"


def search_error(mlflow_fragment):
    """The message fragment a malformed search argument is reported with."""
    return mlflow_fragment if REFERENCE_MODE else POSITIONED


@contextlib.contextmanager
def raises_mlflow(error_code, *message_fragments):
    """Expect an MlflowException with ``error_code`` whose message contains
    every fragment; yields the pytest ExceptionInfo."""
    with pytest.raises(MlflowException) as excinfo:
        yield excinfo
    exc = excinfo.value
    assert exc.error_code == error_code, (
        f"expected error_code {error_code}, got {exc.error_code}: {exc.message[:500]}"
    )
    for fragment in message_fragments:
        assert fragment in exc.message, (
            f"expected {fragment!r} in the error message, got: {exc.message[:500]}"
        )


def same_float(a, b):
    """Equality that treats NaN as equal to NaN (history values are compared
    value by value, NaN included)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def assert_metric_points(actual, expected, what="metric history"):
    """``actual``: list of mlflow Metric; ``expected``: list of
    (value, timestamp, step) tuples in the expected order."""
    got = [(m.value, m.timestamp, m.step) for m in actual]
    assert len(got) == len(expected), f"{what}: expected {len(expected)} points, got {got}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert same_float(g[0], e[0]) and g[1:] == e[1:], (
            f"{what}: point {i} is {g}, expected {e}; all points: {got}"
        )


def run_names(runs):
    """The run names of a search result, in order."""
    return [r.info.run_name for r in runs]


def walk_pages(search, page_size):
    """Calls ``search(max_results=..., page_token=...)`` until no token is
    returned; returns the list of pages (each a PagedList)."""
    pages = []
    token = None
    while True:
        page = search(max_results=page_size, page_token=token)
        pages.append(page)
        token = page.token
        if not token:
            return pages
        assert len(pages) < 1000, "paging does not terminate"
