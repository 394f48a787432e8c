"""``ops`` leaves without tearing the interpreter down (``cli.run``), yet exits as Python would:
the same status, every line flushed, ``atexit`` handlers run and threads finished."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _ops(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    program = "\n".join(
        [
            "import sys",
            f"sys.argv = ['ops', *{list(args)!r}]",
            textwrap.dedent(code),
            "from ops_toolkit.cli import run",
            "run()",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=cwd, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "status"),
    [(("--version",), 0), (("no-such-command",), 2), (("runbook", "show", "/no/such.md"), 1)],
)
def test_the_status_is_the_commands(args: tuple[str, ...], status: int, tmp_path: Path) -> None:
    assert _ops("", *args, cwd=tmp_path).returncode == status


def test_a_large_document_reaches_a_pipe_whole(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    for number in range(300):  # a document far larger than stdout's buffer
        (runbooks / f"r{number}.md").write_text(f"# Runbook {number}\n\n```sh\ntrue\n```\n")
    listed = _ops("", "runbook", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 300


def test_atexit_handlers_run_and_threads_finish(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    code = f"""
        import atexit, threading, time
        atexit.register(lambda: open({str(marks)!r}, "a").write("atexit\\n"))
        def late():
            time.sleep(0.3)
            open({str(marks)!r}, "a").write("thread\\n")
        threading.Thread(target=late).start()
    """
    assert _ops(code, "--version", cwd=tmp_path).returncode == 0
    assert marks.read_text().splitlines() == ["thread", "atexit"]


def test_a_stdout_that_cannot_be_flushed_exits_120(tmp_path: Path) -> None:
    code = """
        import io, sys
        class Full(io.StringIO):
            def flush(self):
                raise OSError(28, "No space left on device")
        sys.stdout = Full()
    """
    assert _ops(code, "--version", cwd=tmp_path).returncode == 120


def test_a_thread_pool_left_open_does_not_hold_the_exit(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    code = f"""
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(max_workers=1)
        pool.submit(lambda: open({str(marks)!r}, "a").write("done\\n"))
    """
    assert _ops(code, "--version", cwd=tmp_path).returncode == 0  # _ops times out if it hangs
    assert marks.read_text() == "done\n"
