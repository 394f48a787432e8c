"""ops's own process is not readable through /proc by the steps it starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import ops_toolkit.runbook.guard as guard

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")
# The project's own interpreter may live where nobody cannot read it; Debian's can be run.
SYSTEM_PYTHON = "/usr/bin/python3"
DUMPABLE = "import ctypes; print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))"


def read_environ_as_a_step_would(guarded: bool, shared: Path) -> subprocess.CompletedProcess[str]:
    """A process of one user, and a 'step' of the same user reading its environment."""
    assert shutil.which("setpriv") and os.path.exists(SYSTEM_PYTHON)
    module = shared / "guard.py"
    module.write_text(Path(guard.__file__).read_text())
    module.chmod(0o644)
    holder = textwrap.dedent(f"""
        import importlib.util, sys, time
        spec = importlib.util.spec_from_file_location("guard", {str(module)!r})
        guard = importlib.util.module_from_spec(spec); spec.loader.exec_module(guard)
        print(guard.forbid_inspection() if {guarded} else "unguarded", flush=True)
        sys.stdin.read()
    """)
    process = subprocess.Popen(
        [*NOBODY, SYSTEM_PYTHON, "-c", holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxb-held-by-ops"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == ("True" if guarded else "unguarded")
        return subprocess.run(
            [*NOBODY, "cat", f"/proc/{process.pid}/environ"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        process.communicate("", timeout=30)


def test_a_guarded_process_environment_is_unreadable_to_a_step_of_the_same_user() -> None:
    with tempfile.TemporaryDirectory() as folder:  # pytest's own tmp is for its user only
        shared = Path(folder)
        shared.chmod(0o755)
        unguarded = read_environ_as_a_step_would(False, shared)
        guarded = read_environ_as_a_step_would(True, shared)
    assert "SLACK_BOT_TOKEN=xoxb-held-by-ops" in unguarded.stdout  # what a step could do before
    assert guarded.returncode != 0 and guarded.stdout == ""
    assert "Permission denied" in guarded.stderr


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def test_the_cli_guards_itself_before_it_runs_a_step(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        from ops_toolkit.cli.runbook import _world
        _world(as_json=True, non_interactive=True, state_dir={str(tmp_path)!r},
               prometheus_url=None)
        {DUMPABLE}
    """)
    assert run_python(code) == "0"


def test_ops_serve_guards_itself_before_it_runs_diagnose_steps(tmp_path: Path) -> None:
    runbook = tmp_path / "r.md"
    runbook.write_text(
        '---\ntitle: T\nowner: team\n---\n```sh {"name":"a","tag":"diagnose"}\ntrue\n```\n'
    )
    code = textwrap.dedent(f"""
        from ops_toolkit.runbook.execute import no_metrics
        from ops_toolkit.serve.diagnose import Diagnoser
        diagnoser = Diagnoser(None, {str(tmp_path)!r}, {{}}, lambda: no_metrics, lambda: None)
        print(diagnoser.message_for({str(runbook)!r}, {{}}) is not None)
        {DUMPABLE}
    """)
    assert run_python(code).splitlines() == ["True", "0"]
