"""Keep steps from reading ops's own memory and environment through ``/proc``.

A step runs as the same user as ops, so by default it may read ``/proc/$PPID/environ`` and
``/proc/$PPID/mem``: every credential the environment models keep out of the step's own
environment (the Slack token, the webhook token, a database password) would be one ``cat``
away, and under ``ops serve`` the step may be chosen by an alert. A process that is not
dumpable can be read there only by a holder of CAP_SYS_PTRACE, as ssh-agent and gpg-agent do.
``execve`` makes each step dumpable again, so the steps themselves are unchanged.
"""

from __future__ import annotations

import ctypes
import sys

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def forbid_inspection() -> bool:
    """Make this process non-dumpable; whether it now is (False where Linux's prctl is not)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        return bool(libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
