"""``python -m ops_toolkit.demo``: run the whole job on the worked example, on loopback only."""

from __future__ import annotations

import os
import subprocess
import sys


def ops(*args: str) -> None:
    """Run ``ops`` as a user would, showing the command first."""
    print(f"\n$ ops {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "ops_toolkit", *args], check=False)
    if result.returncode not in (0,):
        raise SystemExit(f"demo: 'ops {' '.join(args)}' exited {result.returncode}")


def main() -> None:
    os.environ.setdefault("COLUMNS", "120")
    ops("runbook", "list")
    ops("runbook", "lint", "--strict", "runbooks/")
    ops("runbook", "show", "search-errors")


if __name__ == "__main__":
    main()
