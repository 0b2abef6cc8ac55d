"""Small assertion helpers shared by the compatibility tests."""

import contextlib
import math

import pytest
from mlflow.exceptions import MlflowException

# Well-formed run id that no server will ever have issued.
MISSING_RUN_ID = "0123456789abcdef0123456789abcdef"

# MLflow's SQL store clamps +/-inf to +/-DBL_MAX before storing, so that is
# what every read returns (not inf).
DBL_MAX = 1.7976931348623157e308


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
    assert len(got) == len(expected) and all(
        same_float(g[0], e[0]) and g[1:] == tuple(e[1:]) for g, e in zip(got, expected)
    ), f"{what} mismatch:\n  got      {got}\n  expected {expected}"


def run_names(runs):
    return [r.info.run_name for r in runs]


def walk_pages(search, page_size):
    """Call ``search(max_results=..., page_token=...)`` until the server stops
    returning a token; returns the list of pages (each a list)."""
    pages = []
    token = None
    while True:
        page = search(max_results=page_size, page_token=token)
        pages.append(list(page))
        token = page.token
        if not token:
            return pages
        assert len(pages) < 100, "paging does not terminate"
