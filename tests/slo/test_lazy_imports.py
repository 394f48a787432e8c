"""What ``ops slo report`` imports at start-up (issue 15: most of its CPU was imports).

The readers of other formats, ``requests``, hashlib-backed correction rules and click's
completion are imported when they are needed, not at start-up; these tests pin both halves
of that split in a fresh interpreter: an ops/v1 report does not import them, and a file of
another format is still read (the lazy reader imports its module). Nothing here is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys

from ops_toolkit.slo.formats import openslo
from ops_toolkit.slo.spec import OPENSLO_APIS
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "slo" / "fixtures"

# Runs `ops slo report -o json` against a closed port (the whole path up to the queries,
# which fail: exit 1), or loads the files given, in a fresh interpreter, and prints what was
# loaded and which modules were imported.
DRIVER = """
import json, sys
from ops_toolkit.cli import main
from ops_toolkit.slo.spec import load_slo_files
if sys.argv[1] == "report":
    code = main(
        ["slo", "report", *sys.argv[2:], "--prometheus", "http://127.0.0.1:9", "-o", "json"],
        standalone_mode=False,
    )
    assert code == 1, code
    keys = []
else:
    keys = [s.key for f in load_slo_files(sys.argv[2:]) for s in f.slos]
print(json.dumps({"keys": keys, "modules": sorted(sys.modules)}))
"""

NOT_AT_START_UP = (
    "requests",
    "urllib3",
    "ops_toolkit.slo.formats.openslo",
    "ops_toolkit.slo.formats.sloth",
    "ops_toolkit.slo.formats.pyrra",
    "ops_toolkit.slo.correction_rules",
    "click.shell_completion",
    "rich",
    # plain http:// is spoken by metrics/http11.py: http.client, with the email package and
    # ssl, is for https:// only (12-16 ms of a report's CPU)
    "http.client",
    "email",
    "ssl",
    "encodings.idna",
    # the other command groups: `ops slo report` loads the slo group alone
    "ops_toolkit.cli.runbook",
    "ops_toolkit.cli.serve",
    "ops_toolkit.cli.rollout",
    "ops_toolkit.cli.escalation",
    "ops_toolkit.cli.oncall",
    "ops_toolkit.cli.check",
    "ops_toolkit.cli.store",
)


def fresh(*args: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    document: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return document


def test_a_report_of_ops_v1_files_imports_none_of_the_other_readers() -> None:
    modules = set(fresh("report", str(ROOT / "slos"))["modules"])
    assert {"ops_toolkit.slo.evaluate", "ops_toolkit.metrics.transport"} <= modules  # it ran
    assert sorted(modules & set(NOT_AT_START_UP)) == []


def test_an_openslo_file_referring_to_another_is_read_through_the_lazy_reader() -> None:
    found = fresh("load", str(FIXTURES / "openslo"))
    assert "ops_toolkit.slo.formats.openslo" in found["modules"]
    # answer-accuracy's SLI (answer-helpful) is in slis.yaml: shared objects were read too
    assert "search-openslo/answer-accuracy-helpful" in found["keys"]


def test_sloth_and_pyrra_files_are_read_through_their_lazy_readers() -> None:
    found = fresh("load", str(FIXTURES / "sloth"), str(FIXTURES / "pyrra"))
    assert {"ops_toolkit.slo.formats.sloth", "ops_toolkit.slo.formats.pyrra"} <= set(
        found["modules"]
    )
    assert len(found["keys"]) == len(set(found["keys"])) > 0


def test_the_openslo_versions_spec_checks_are_the_readers() -> None:
    assert OPENSLO_APIS == openslo.APIS
