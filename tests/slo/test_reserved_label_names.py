"""Label names Prometheus reserves (``__name__``, any ``__`` prefix) or cannot read, refused
by every SLO format at their YAML path.

They were accepted and written into every generated rule, and promtool (like Prometheus)
then refused the whole rule file: no SLO rule loaded.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from ops_toolkit.demo.servers import require_binary
from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.spec import parse_slo_file
from tests.slo.test_formats import PYRRA, SLOTH
from tests.slo.test_formats_openslo import SLO as OPENSLO

OPS = """version: ops/v1
service: shop
labels: {team: shop}
slos:
  - name: checkout
    objective: 99.5
    sli:
      ratio:
        bad: requests_total{code=~"5.."}
        total: requests_total
"""

RESERVED = "label names beginning with '__' are reserved by Prometheus; rename this label"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            OPS.replace("{team: shop}", "{team: shop, __name__: evil}"),
            f"f.yaml: labels.__name__: {RESERVED}, e.g. to 'name'",
            id="ops/v1 file labels",
        ),
        pytest.param(
            OPS.replace("    objective: 99.5\n", "    objective: 99.5\n    labels: {__tmp: x}\n"),
            f"f.yaml: slos[0].labels.__tmp: {RESERVED}, e.g. to 'tmp'",
            id="ops/v1 SLO labels",
        ),
        pytest.param(
            OPS.replace(
                "    objective: 99.5\n",
                "    objective: 99.5\n    alerting: {page: {labels: {__severity: x}}}\n",
            ),
            f"f.yaml: slos[0].alerting.page.labels.__severity: {RESERVED}, e.g. to 'severity'",
            id="ops/v1 alert labels",
        ),
        pytest.param(
            OPENSLO.replace("  name: checkout\n", "  name: checkout\n  labels: {__name__: evil}\n"),
            f"f.yaml: metadata.labels.__name__: {RESERVED}, e.g. to 'name'",
            id="OpenSLO labels",
        ),
        pytest.param(
            SLOTH.replace("service: shop\n", "service: shop\nlabels: {__name__: evil}\n"),
            f"f.yaml: labels.__name__: {RESERVED}, e.g. to 'name'",
            id="Sloth labels",
        ),
        pytest.param(
            SLOTH.replace(
                "    objective: 99.5\n",
                "    objective: 99.5\n    alerting:\n      name: X\n"
                "      page_alert: {labels: {__x: y}}\n",
            ),
            f"f.yaml: slos[0].alerting.page_alert.labels.__x: {RESERVED}, e.g. to 'x'",
            id="Sloth alert labels",
        ),
        pytest.param(
            PYRRA.replace(
                "metadata: {name: checkout, namespace: shop}",
                "metadata: {name: checkout, namespace: shop, labels: {pyrra.dev/__name__: evil}}",
            ),
            f"f.yaml: metadata.labels.__name__: {RESERVED}, e.g. to 'name'",
            id="Pyrra labels",
        ),
        pytest.param(
            OPS.replace("{team: shop}", "{team: shop, '__': x}"),
            f"f.yaml: labels.__: {RESERVED}, e.g. to 'label_'",
            id="nothing but underscores",
        ),
        pytest.param(
            OPS.replace("{team: shop}", "{team: shop, 2fa: x}"),
            "f.yaml: labels.2fa: not a usable Prometheus label name (letters, digits and '_', "
            "not first a digit)",
            id="an invalid name",
        ),
    ],
)
def test_reserved_and_invalid_label_names_are_refused_at_their_place(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == message


def promtool_check(rules: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    for name, text in rules.items():
        (tmp_path / name).write_text(text)
    return subprocess.run(
        [
            require_binary("promtool"),
            "check",
            "rules",
            *sorted(n for n in rules if "test" not in n),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_promtool_refuses_the_rules_a_name_label_would_give_and_takes_its_rename(
    tmp_path: Path,
) -> None:
    """Why the readers refuse it: the model, given ``__name__`` past the reader, makes a
    rule file promtool refuses; the suggested rename makes one it takes. (promtool 2.42
    takes other ``__`` names, which Prometheus reserves for its internal use, so they are
    refused too.)"""
    name = "__name__"
    file = parse_slo_file(OPS, "shop.yaml")
    (slo,) = file.slos

    def with_label(label: str) -> dict[str, str]:
        labelled = dataclasses.replace(slo, labels={**slo.labels, label: "x"})
        return generate([dataclasses.replace(file, slos=(labelled,))], None, True)

    (tmp_path / "refused").mkdir()
    refused = promtool_check(with_label(name), tmp_path / "refused")
    assert refused.returncode == 1
    assert f"invalid label name: {name}" in refused.stdout + refused.stderr
    (tmp_path / "renamed").mkdir()
    renamed = promtool_check(with_label(name.strip("_")), tmp_path / "renamed")
    assert renamed.returncode == 0, renamed.stdout + renamed.stderr
