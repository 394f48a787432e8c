"""How long the fuzz targets run: a bounded profile in ``make test``, a longer one on demand.

``OPS_FUZZ=ci`` (default): a fixed number of examples per target, about 60 s for all
targets together on a shared 2-core machine. ``OPS_FUZZ=long``: 50 times as many, for a
fuzzing session. ``OPS_FUZZ_EXAMPLES=N`` sets the number of examples per target exactly.
A failure prints the blob that reproduces it (``@reproduce_failure``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {"ci": 1, "long": 50}
_profile = os.environ.get("OPS_FUZZ", "ci")
if _profile not in PROFILES:
    raise SystemExit(f"OPS_FUZZ: expected one of {', '.join(PROFILES)}, got {_profile!r}")


def fuzz(examples: int) -> settings:
    """Settings for a target that runs ``examples`` examples in the ci profile."""
    count = int(os.environ.get("OPS_FUZZ_EXAMPLES", "0")) or examples * PROFILES[_profile]
    return settings(
        max_examples=count,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
