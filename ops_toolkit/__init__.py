"""ops-toolkit: executable runbooks, SLO error budgets and alert escalations.

The public surface is what ``__all__`` names; everything else is internal.
"""

from __future__ import annotations

from ops_toolkit.errors import (
    ConfigError,
    MetricsError,
    NotifyError,
    OpsError,
    PayloadError,
    RunbookError,
    StepFailed,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "MetricsError",
    "NotifyError",
    "OpsError",
    "PayloadError",
    "RunbookError",
    "StepFailed",
    "__version__",
]
