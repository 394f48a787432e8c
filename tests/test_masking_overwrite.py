"""Masking sees what a terminal shows though the bytes differ: overwrites, zero-width
characters and the 8-bit CSI.

``XXXRET\\rSEC`` and ``SECX\\bRET`` show ``SECRET`` (a carriage return or a backspace makes
the text after it overwrite the line); ``SEC\\u200bRET`` shows it too (a zero-width space),
and so does ``SEC\\x9b31mRET`` (U+009B is ``ESC [`` in one character). Each was shown and
stored in clear before: on the terminal, in ``--json``, ``--report``, the state and the logs.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.masking import Masker
from tests.cli.test_run_cli import FENCE, ops, write_runbook
from tests.test_masking_escapes import inserted, streamed

SECRET = "S3cr3t-T0ken/Value+xyz"
_INVISIBLE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]"
    r"|[\x1b\x9b\u200b\u200c\u200d\u2060\ufeff\u00ad]"
)


def drawn(text: str) -> str:
    """What a terminal shows of ``text``: escapes and zero-width characters are nothing, a
    CR takes the cursor to the line's first cell, a backspace one cell back, and what
    follows is written over the cells."""
    lines = []
    for line in _INVISIBLE.sub("", text).split("\n"):
        cells: list[str] = []
        column = 0
        for character in line:
            if character == "\r":
                column = 0
            elif character == "\b":
                column = max(0, column - 1)
            else:
                if column < len(cells):
                    cells[column] = character
                else:
                    cells.append(character)
                column += 1
        lines.append("".join(cells))
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("XXXXXXXXXXXXXValue+xyz\rS3cr3t-T0ken/\n", "XXXXXXXXXXXXXValue+xyz\r*************\n"),
        ("token: S3cr3t-T0ken/ValuX\be+xyz!\n", "token: S3cr3t-T0ken/ValuX\b*****!\n"),
        ("S3cr3t-T0ken/Value+xYZ\b\byz\n", "S3cr3t-T0ken/Value+xYZ\b\b**\n"),
        ("xxxxx\rS3cr3t-T0\n", "xxxxx\rS3cr3t-T0\n"),
        (
            "S3cr3t-T0ken/Value+xyz\rhidden by the line over it\n",
            "***\rhidden by the line over it\n",
        ),
        ("S3cr3t-T0ken/Value+xyz\r\n", "***\r\n"),
        ("a\rb\r\nS3cr3t-\x08-T0ken/Value+xyz\r\n", "a\rb\r\nS3cr3t-\b****************\r\n"),
        ("S3cr3t\u200b-T0ken/Value+xyz", "***"),
        ("S3cr3t\u200c-T0ken\u200d/Value+xyz", "***"),
        ("S3cr3t\u2060-T0ken/Value+\ufeffxyz", "***"),
        ("S3cr3t-T0\u00adken/Value+xyz done", "*** done"),
        ("S3cr3t-\x9b01;31mT0ken\x9bm/Value+xyz\n", "***\n"),
        ("\x9b32mtoken: S3cr3t-T0ken/Value+xyz\x9b0m", "\x9b32mtoken: ***\x9b0m"),
        ("\x9b8;S3cr3t-T0ken/Value+xyz@ hidden in an escape", "\x9b8;***@ hidden in an escape"),
        (
            "progress 10%\rprogress 50%\rprogress 100%\n",
            "progress 10%\rprogress 50%\rprogress 100%\n",
        ),
    ],
    ids=[
        "a carriage return drawing its first part over the line",
        "a backspace replacing one character",
        "two backspaces",
        "overwritten but not whole: unchanged",
        "written then overwritten: masked as written",
        "CRLF: nothing overwritten",
        "CRLF lines and a backspace",
        "a zero-width space inside",
        "zero-width non-joiner and joiner",
        "word joiner and BOM",
        "a soft hyphen",
        "8-bit CSI inside",
        "8-bit CSI around it kept",
        "inside an 8-bit CSI's parameters",
        "no secret: a progress line unchanged",
    ],
)
def test_a_secret_is_masked_as_a_terminal_shows_it(text: str, expected: str) -> None:
    masked = Masker([SECRET])(text)
    assert masked == expected
    assert SECRET not in drawn(masked)
    assert SECRET not in masked


def test_a_stream_holds_a_line_back_from_its_first_overwrite_until_it_ends() -> None:
    stream = Masker([SECRET]).stream()
    assert stream.feed("XXXXXXXXXXXXXValue+xyz") == "XXXXXXXXXXXXXValue+xyz"
    assert stream.feed("\rS3cr3t-") == ""
    assert stream.feed("T0ken/") == ""
    assert stream.feed("\nnext line") == "\r*************\nnext line"
    assert stream.feed("\r\n") == "\r\n"
    assert stream.flush() == ""


def test_a_stream_lets_a_line_go_once_held_past_its_window() -> None:
    stream = Masker([SECRET]).stream()
    assert stream.feed("start\r") == "start"
    progress = "".join(f"{n:>4}%\r" for n in range(1000))
    shown = stream.feed(progress)
    assert shown.startswith("\r   0%\r") and len(shown) >= len(progress) - 4096
    assert shown + stream.flush() == "\r" + progress


_TEXT = st.text(alphabet=st.sampled_from("S3cr-Tkx \r\b\u200b\x9b\n"), max_size=24)
_SECRETS = st.text(alphabet=st.sampled_from("S3cr-Tk"), min_size=4, max_size=8)


@settings(max_examples=400, deadline=None)
@given(
    secret=_SECRETS,
    before=_TEXT,
    inserts=st.lists(
        st.tuples(st.integers(min_value=0, max_value=8), st.sampled_from(["\r", "\b", "\u200b"])),
        max_size=3,
    ),
    after=_TEXT,
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
)
def test_a_stream_with_overwrites_masks_as_the_whole_text_is_masked(
    secret: str, before: str, inserts: list[tuple[int, str]], after: str, cuts: list[int]
) -> None:
    text = before + inserted(secret, inserts) + after
    masker = Masker([secret])
    assert streamed(masker, text, cuts) == masker(text)
    assert secret not in masker(text)


@settings(max_examples=400, deadline=None)
@given(secret=_SECRETS, text=st.text(alphabet=st.sampled_from("S3cr-Tkx\r\b\n"), max_size=40))
def test_what_a_terminal_draws_of_masked_text_never_shows_the_secret(
    secret: str, text: str
) -> None:
    assert secret not in drawn(Masker([secret])(text))


def test_masking_stays_linear_on_a_long_line_of_overwrites() -> None:
    """Each character is drawn once: a line of 200,000 backspaces and carriage returns
    gives the same answer as the short one (its cost is measured in bench/masking.py)."""
    line = ("ab\b\bS3cr3t-T0ken/Value+xyz\r" * 10_000) + "\n"
    masked = Masker([SECRET])(line)
    assert masked == ("ab\b\b" + "*" * len(SECRET) + "\r") * 10_000 + "\n"


def test_a_run_masks_an_overwritten_secret_everywhere_it_writes(tmp_path: Path) -> None:
    assert shutil.which("bash")
    steps = {  # each shows the secret on a terminal, its bytes differing
        "carriage-return": r"""printf 'XXXXXXXXXX%s\r%s\n' "${s:10}" "${s:0:10}" """,
        "backspace": r"""printf '%sX\b%s\n' "${s:0:6}" "${s:6}" """,
        "zero-width": r"""printf '%s\xe2\x80\x8b%s\xc2\xad%s\n' "${s:0:4}" "${s:4:8}" "${s:12}" """,
        "c1-csi": r"""printf '%s\xc2\x9b1;31m%s\xc2\x9bm\n' "${s:0:9}" "${s:9}" """,
    }
    body = "".join(
        f'{FENCE}bash {{"name":"{name}"}}\ns="$MYTOK"; {script}\n{FENCE}\n\n'
        for name, script in steps.items()
    )
    body += (
        f'{FENCE}bash {{"name":"in-background","background":"true"}}\n'
        f's="$MYTOK"; printf \'%sX\\b%s\\n\' "${{s:0:6}}" "${{s:6}}"; sleep 30\n{FENCE}\n\n'
        f'{FENCE}bash {{"name":"after"}}\nsleep 0.3\n{FENCE}\n'
    )
    path = write_runbook(tmp_path, body, "secrets: [MYTOK]\n")
    state = tmp_path / "state"
    report = tmp_path / "report.md"
    env = {"MYTOK": SECRET, "COLUMNS": "200"}
    console = ops(
        "runbook", "run", str(path), "--state-dir", str(state), "--report", str(report), env=env
    )
    assert console.returncode == 0, console.stderr
    as_json = ops("runbook", "run", str(path), "--state-dir", str(state), "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    outputs = [step["output"] for step in json.loads(as_json.stdout)["steps"]]
    assert [drawn(output) for output in outputs[:4]] == [
        "**********en/Value+xyz\n",
        "S3cr3t" + "*" * 16 + "\n",
        "***\n",
        "***\n",
    ]
    logs = sorted((state / "runs").glob("*.in-background.log"))
    assert [drawn(log.read_text()) for log in logs] == ["S3cr3t" + "*" * 16 + "\n"] * 2
    written = [console.stdout, console.stderr, as_json.stdout, report.read_text()]
    written += [p.read_text() for p in state.rglob("*") if p.is_file()]
    for text in written:  # the state and --json hold the controls as \r, \b, \u200b...
        decoded = text
        for escaped, character in (
            ("\\r", "\r"),
            ("\\b", "\b"),
            ("\\u200b", "\u200b"),
            ("\\u00ad", "\u00ad"),
            ("\\u009b", "\x9b"),
        ):
            decoded = decoded.replace(escaped, character)
        assert SECRET not in drawn(decoded)
        assert SECRET not in decoded
