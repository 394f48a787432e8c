"""Masking sees through terminal escapes: a secret coloured in part is masked all the same.

``grep --color=always`` matching part of a token, a colour reset inside it, a hyperlink or a
title escape: a terminal shows the secret whole, so the mask covers the whole span, escapes
inside it included, in the console, the state file, ``--json`` and ``--report``.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.masking import Masker
from tests.cli.test_run_cli import FENCE, ops, write_runbook

SECRET = "S3cr3t-T0ken/Value+xyz"
ESCAPES = [
    "\x1b[0m",
    "\x1b[01;31m\x1b[K",
    "\x1b[m\x1b[K",
    "\x1b]8;;https://example.com/\x1b\\",
    "\x1b]0;title\x07",
    "\x1b(B",
    "\x1b7",
    "\x1b",
]
INVISIBLE = re.compile("[\x1b\x9b\u200b\u200c\u200d\u2060\ufeff\u00ad\r\x08]")
SHOWN = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]")


def inserted(secret: str, inserts: list[tuple[int, str]]) -> str:
    """``secret`` with each ``(index, text)`` put in at its index (clamped to the end)."""
    written = secret
    for index, text in sorted(inserts, reverse=True):
        index = min(index, len(written))
        written = written[:index] + text + written[index:]
    return written


def streamed(masker: Masker, text: str, cuts: list[int]) -> str:
    """``text`` masked as a stream fed in pieces cut at ``cuts``, as a step's output comes."""
    stream = masker.stream()
    shown, position = [], 0
    for cut in sorted(c for c in cuts if c <= len(text)):
        shown.append(stream.feed(text[position:cut]))
        position = cut
    shown += [stream.feed(text[position:]), stream.flush()]
    return "".join(shown)


def as_shown(text: str) -> str:
    """What a terminal shows of ``text`` (the escapes of these tests removed)."""
    return SHOWN.sub("", text).replace("\x1b", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{SECRET[:6]}\x1b[0m{SECRET[6:]}\n", "***\n"),
        (
            f"token: {SECRET[:7]}\x1b[01;31m\x1b[K{SECRET[7:10]}\x1b[m\x1b[K{SECRET[10:]}\n",
            "token: ***\n",
        ),
        (f"\x1b[32mtoken: {SECRET}\x1b[0m done", "\x1b[32mtoken: ***\x1b[0m done"),
        (
            f"\x1b]8;;https://x/\x1b\\{SECRET[:4]}\x1b]8;;\x1b\\{SECRET[4:]}",
            "\x1b]8;;https://x/\x1b\\***",
        ),
        (f"{SECRET[:4]}\x1b]0;title\x07{SECRET[4:]}!", "***!"),
        (f"{SECRET[:4]}\x1b(B\x1b7{SECRET[4:]}", "***"),
        (
            f"basic {base64.b64encode(SECRET.encode()).decode()[:5]}\x1b[1m"
            f"{base64.b64encode(SECRET.encode()).decode()[5:]}",
            "basic ***",
        ),
        ("\x1b[31mno secret\x1b[0m here", "\x1b[31mno secret\x1b[0m here"),
    ],
    ids=[
        "a colour reset inside",
        "grep --color=always over part of it",
        "escapes around it are kept",
        "a hyperlink ending inside",
        "a title inside, ended by BEL",
        "a charset and a save-cursor escape inside",
        "its base64 form with an escape inside",
        "no secret: unchanged",
    ],
)
def test_a_secret_is_masked_through_the_escapes_inside_it(text: str, expected: str) -> None:
    assert Masker([SECRET])(text) == expected


def test_a_secret_holding_an_escape_is_masked_as_written_and_as_shown() -> None:
    secret = "pass\x1b[0mword"
    masker = Masker([secret])
    assert masker(f"a {secret} b") == "a *** b"
    assert masker("a password b") == "a *** b"


def test_a_safe_cut_never_splits_a_secret_with_escapes_inside() -> None:
    text = f"xx{SECRET[:5]}\x1b[31m{SECRET[5:]}yy"
    cut = Masker([SECRET]).safe_cut(text, 5)
    assert cut == text.index("yy")
    assert Masker([SECRET]).safe_cut(text, 1) == 1


_TEXT = st.text(alphabet=st.characters(blacklist_characters="*"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(alphabet=st.characters(blacklist_characters="*"), min_size=4, max_size=12),
    before=_TEXT,
    after=_TEXT,
    inserts=st.lists(
        st.tuples(st.integers(min_value=0, max_value=12), st.sampled_from(ESCAPES)), max_size=4
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=8),
)
def test_a_stream_with_escapes_masks_as_the_whole_text_is_masked(
    secret: str,
    before: str,
    after: str,
    inserts: list[tuple[int, str]],
    cuts: list[int],
) -> None:
    text = before + inserted(secret, inserts) + after
    masker = Masker([secret])
    assert streamed(masker, text, cuts) == masker(text)
    # A secret holding an invisible character (ESC, the 8-bit CSI, a zero-width one) shows
    # as less than itself, maybe as too little to mask (``000\x9b`` shows ``000``); one
    # holding a CR or a backspace is drawn over by itself: both are masked as written.
    # Text around it with those is drawn as ``as_shown`` does not draw (tests below do).
    if not INVISIBLE.search(before + after + secret):
        assert secret not in as_shown(masker(text))


def test_a_run_masks_a_coloured_secret_everywhere_it_writes(tmp_path: Path) -> None:
    assert shutil.which("grep") and shutil.which("bash")
    path = write_runbook(
        tmp_path,
        f'{FENCE}bash {{"name":"grep-colour"}}\n'
        f"echo \"token: $MYTOK\" | grep --color=always 'T0k'\n{FENCE}\n\n"
        f'{FENCE}bash {{"name":"reset-inside"}}\n'
        f's="$MYTOK"; printf \'%s\\033[0m%s\\n\' "${{s:0:6}}" "${{s:6}}"\n{FENCE}\n',
        "secrets: [MYTOK]\n",
    )
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
    assert [as_shown(output) for output in outputs] == ["token: ***\n", "***\n"]
    written = [console.stdout, console.stderr, as_json.stdout, report.read_text()]
    written += [p.read_text() for p in state.rglob("*") if p.is_file()]
    for text in written:  # the state and --json hold the escapes as \u001b
        assert SECRET not in as_shown(text.replace("\\u001b", "\x1b"))
