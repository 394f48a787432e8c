"""A secret inside a terminal escape is masked: an OSC 8 link's URL, a window title, the
text right after a lone ESC. A terminal shows none of it, so the text as shown does not hold
it; the text as written does, and that is what the state, ``--json`` and ``--report``
keep. Masked in the raw text as well as in the shown text, everywhere ops writes; and a
long output's kept tail is never cut inside one (its end would be kept in clear).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops_toolkit.masking import Masker, secret_forms
from ops_toolkit.runbook.process import keep_tail
from tests.cli.test_run_cli import FENCE, ops, write_runbook

SECRET = "S3cr3t-T0ken/Value+xyz"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SHOWN = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]"
)


def as_shown(text: str) -> str:
    """What a terminal shows of ``text``: its escapes and zero-width characters removed."""
    return re.sub(f"[\x1b\x9b{ZERO_WIDTH}]", "", _SHOWN.sub("", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"\x1b]8;;https://api.example/?token={SECRET}\x1b\\open the dashboard\x1b]8;;\x1b\\\n",
            "\x1b]8;;https://api.example/?token=***\x1b\\open the dashboard\x1b]8;;\x1b\\\n",
        ),
        (
            f"\x1b]8;;https://api.example/?token={quote(SECRET, safe='')}\x07link\x1b]8;;\x07",
            "\x1b]8;;https://api.example/?token=***\x07link\x1b]8;;\x07",
        ),
        (f"\x1b]0;deploying with {SECRET}\x07done\n", "\x1b]0;deploying with ***\x07done\n"),
        (f"key=\x1b{SECRET}\n", "key=\x1b***\n"),
        (f"\x1bP{SECRET}\x1b\\", "\x1bP***\x1b\\"),
        (
            f"\x1b]2;{base64.b64encode(SECRET.encode()).decode()}\x1b\\",
            "\x1b]2;***\x1b\\",
        ),
        (f"\x1b]0;{SECRET[:8]}\x1b[1m{SECRET[8:]}\x07", "\x1b]0;***\x07"),
    ],
    ids=[
        "an OSC 8 link's URL",
        "an OSC 8 link's URL, URL-encoded, ended by BEL",
        "a window title",
        "right after a lone ESC",
        "a DCS string",
        "its base64 form in a title",
        "a title cut by an escape inside the secret",
    ],
)
def test_a_secret_inside_an_escape_is_masked(text: str, expected: str) -> None:
    masker = Masker([SECRET])
    assert masker(text) == expected
    stream = masker.stream()
    assert "".join([*(stream.feed(c) for c in text), stream.flush()]) == expected


@pytest.mark.parametrize(
    "before", ["\x1b]0;", "\x1b]8;;https://x/?token=", "key=\x1b", "\x1b[1m"], ids=repr
)
def test_a_kept_tail_never_starts_inside_a_secret_inside_an_escape(before: str) -> None:
    text = f"{before}{SECRET}\x07 and more output\n"
    start = text.index(SECRET)
    masker = Masker([SECRET])
    for index in range(start + 1, start + len(SECRET)):
        assert masker.safe_cut(text, index) == start + len(SECRET)
        (tail,) = keep_tail([text], masker.safe_cut, limit=len(text) - index)
        assert SECRET[-3:] not in masker(tail)


ESCAPES = [
    "\x1b[0m",
    "\x1b[01;31m\x1b[K",
    "\x1b]8;;https://example.com/\x1b\\",
    "\x1b]0;title\x07",
    "\x1b(B",
    "\x1b7",
    "\x1b",
    "\x9b1m",
    "\u200b",
]
# Where a secret (or a form of it) sits: inside an escape's text, or around escapes.
CONTEXTS = [
    ("\x1b]8;;https://api.example/?token=", "\x1b\\open\x1b]8;;\x1b\\"),
    ("\x1b]8;;https://api.example/?t=", "\x07open\x1b]8;;\x07"),
    ("\x1b]0;deploying with ", "\x07done"),
    ("\x1b]2;", "\x1b\\"),
    ("key=\x1b", ""),
    ("\x1bP", "\x1b\\"),
    ("\x1b_", "\x1b\\"),
    ("\x1b[", "m"),
    ("\x1b[31m", "\x1b[0m"),
    ("", ""),
]
_AROUND = st.text(
    st.characters(exclude_characters="*\r\x08", exclude_categories=("Cs",)), max_size=8
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(
        st.characters(
            exclude_characters="*\r\x08\x07\x1b\x9b" + ZERO_WIDTH, exclude_categories=("Cs",)
        ),
        min_size=4,
        max_size=14,
    ),
    which=st.integers(min_value=0),
    context=st.sampled_from(CONTEXTS),
    inserts=st.lists(
        st.tuples(st.integers(min_value=0, max_value=14), st.sampled_from(ESCAPES)), max_size=3
    ),
    before=_AROUND,
    after=_AROUND,
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_a_secret_never_survives_escapes_around_and_inside_it(
    secret: str,
    which: int,
    context: tuple[str, str],
    inserts: list[tuple[int, str]],
    before: str,
    after: str,
    cuts: list[int],
) -> None:
    forms = sorted(secret_forms(secret))
    form = forms[which % len(forms)]
    written = form
    for index, escape in sorted(inserts, reverse=True):
        index = min(index, len(written))
        written = written[:index] + escape + written[index:]
    text = before + context[0] + written + context[1] + after
    masker = Masker([secret])
    masked = masker(text)
    if written == form:  # as written: gone from the raw text (state, --json, --report)
        assert form not in masked
    assert form not in as_shown(masked)  # as a terminal shows it
    stream = masker.stream()  # the live console shows what the batch masker makes
    pieces, position = [], 0
    for cut in sorted(c for c in cuts if c <= len(text)):
        pieces.append(stream.feed(text[position:cut]))
        position = cut
    pieces += [stream.feed(text[position:]), stream.flush()]
    assert "".join(pieces) == masked
    for cut in cuts:  # a kept tail starts outside every form, as written and as shown
        kept = masker.safe_cut(text, min(cut, len(text)))
        for match in re.finditer(re.escape(form), text):
            assert not match.start() < kept < match.end()


def test_a_run_masks_secrets_inside_escapes_everywhere_it_writes(tmp_path: Path) -> None:
    path = write_runbook(
        tmp_path,
        f'{FENCE}bash {{"name":"osc8-link"}}\n'
        "printf '\\033]8;;https://api.example/?token=%s\\033\\\\open the dashboard"
        '\\033]8;;\\033\\\\\\n\' "$MYTOK"\n'
        f"{FENCE}\n\n"
        f'{FENCE}bash {{"name":"title"}}\n'
        "printf '\\033]0;deploying with %s\\007done\\n' \"$MYTOK\"\n"
        f"{FENCE}\n\n"
        f'{FENCE}bash {{"name":"esc-before"}}\n'
        "printf 'key=\\033%s\\n' \"$MYTOK\"\n"
        f"{FENCE}\n",
        "secrets: [MYTOK]\n",
    )
    state, report = tmp_path / "state", tmp_path / "report.md"
    env = {"MYTOK": SECRET, "COLUMNS": "200"}
    common = ("runbook", "run", str(path), "--state-dir", str(state), "--report", str(report))
    console = ops(*common, env=env)
    assert console.returncode == 0, console.stderr
    as_json = ops(*common, "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert [s["output"] for s in json.loads(as_json.stdout)["steps"]] == [
        "\x1b]8;;https://api.example/?token=***\x1b\\open the dashboard\x1b]8;;\x1b\\\n",
        "\x1b]0;deploying with ***\x07done\n",
        "key=\x1b***\n",
    ]
    written = [console.stdout, console.stderr, as_json.stdout, as_json.stderr, report.read_text()]
    written += [p.read_text() for p in state.rglob("*") if p.is_file()]
    for text in written:
        assert SECRET not in text
        assert SECRET not in as_shown(text.replace("\\u001b", "\x1b").replace("\\u0007", "\x07"))
