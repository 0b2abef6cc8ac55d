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
