"""Random mutations of the real-world fixtures: OpenSLO, Sloth, Pyrra and Runme documents.

The hypothesis targets in ``test_parsers.py`` mutate trees; these mutate *text* (lines
dropped, repeated, swapped or re-indented, hostile tokens spliced in at any offset, the file
cut short), starting from the fixtures the readers are tested on. The seed is fixed, so a
failure is reproduced by its case number; only the project's own errors may come out, each
naming the file.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ops_toolkit.errors import OpsError
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.parse import parse_runbook
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.spec import parse_slo_file
from tests.conftest import ROOT

# Per fixture: the whole module runs in a few seconds; OPS_FUZZ_EXAMPLES for a longer hunt.
CASES = int(os.environ.get("OPS_FUZZ_EXAMPLES", "0")) or 150
TOKENS = [
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "!!python/object:os.system ",
    "\t",
    "\x00",
    "\ud800",
    "\u202e",
    "\ufeff",
    "\r",
    "- ",
    ": ",
    '"',
    "'",
    "#",
    "{{",
    "}}",
    "{{.window}}",
    "---\n",
    "+++\n",
    "```",
    '```sh {"name":"x"}\n',
    '{"name":"a","name":"b"}',
    "9" * 5000,
    "1e999",
    "-.inf",
    ".nan",
    "2026-02-30",
    "0001-01-01T00:00:00+14:00",
    "[" * 500,
    "x: " * 200,
    "$(rm -rf /)",
    "\\",
    "%",
]


def mutate(text: str, rng: random.Random) -> str:
    """``text`` with one to four random mutations."""
    for _ in range(rng.randint(1, 4)):
        lines = text.split("\n")
        choice = rng.randrange(7)
        index = rng.randrange(len(lines))
        if choice == 0 and len(lines) > 1:
            del lines[index]
        elif choice == 1:
            lines.insert(index, lines[rng.randrange(len(lines))])
        elif choice == 2:
            other = rng.randrange(len(lines))
            lines[index], lines[other] = lines[other], lines[index]
        elif choice == 3:
            lines[index] = " " * rng.choice([1, 2, 3, 4, 8]) + lines[index]
        elif choice == 4:
            lines = lines[: max(1, index)]
        else:
            line = lines[index]
            at = rng.randrange(len(line) + 1)
            lines[index] = line[:at] + rng.choice(TOKENS) + line[at:]
        text = "\n".join(lines)
    return text


def check_slo(text: str, source: str) -> None:
    parsed = parse_slo_file(text, source)
    generate([parsed], None, True)  # what the reader accepts, the rules can use


def check_runbook(text: str, source: str) -> None:
    runbook = parse_runbook(text, source)
    lint_runbook(runbook)


SLO_FIXTURES = sorted((ROOT / "tests" / "slo" / "fixtures").rglob("*.yaml"))
RUNME_FIXTURES = sorted((ROOT / "tests" / "runbook" / "fixtures").rglob("*.md"))


@pytest.mark.parametrize(
    ("path", "check"),
    [(p, check_slo) for p in SLO_FIXTURES] + [(p, check_runbook) for p in RUNME_FIXTURES],
    ids=[str(p.relative_to(ROOT / "tests")) for p in SLO_FIXTURES + RUNME_FIXTURES],
)
def test_mutated_fixtures_raise_only_project_errors_naming_the_file(
    path: Path, check: Callable[[str, str], None]
) -> None:
    original = path.read_text()
    rng = random.Random(f"ops-fuzz:{path.name}")
    for case in range(CASES):
        text = mutate(original, rng)
        try:
            check(text, "in.file")
        except OpsError as error:
            assert str(error).startswith("in.file"), (case, str(error)[:300])
        except Exception as error:
            pytest.fail(f"case {case}: {type(error).__name__}: {str(error)[:300]}\n{text[:2000]}")
