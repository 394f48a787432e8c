"""SLO files -> ``SLOFile`` models: the ops/v1 reader, and the registry of every format.

Spec is not model: each format is read and checked key by key (ops/v1 here, the others in
``slo/formats/``), then mapped onto the one model in ``slo/model.py``. Every error names
the file and the YAML path, e.g. ``slos/search.yaml: slos[1].objective: expected a number
between 0 and 100 (exclusive), got '99.9%'``. The ops/v1 reader keeps its own small checks
until it moves into ``slo/formats/`` too (``formats/common.py`` has the shared ones).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable

from ops_toolkit.durations import DurationTooLong, parse_duration, shorten
from ops_toolkit.errors import ConfigError, SelectorError
from ops_toolkit.slo.alert_spec import parse_alerting
from ops_toolkit.slo.corrections import (
    CORRECTIONS_FILE,
    Correction,
    attach,
    is_corrections_file,
    parse_corrections,
    parse_corrections_file,
)
from ops_toolkit.slo.formats import Reader, Shared, documents, format_key
from ops_toolkit.slo.formats.common import label_problem, query_problem, selector
from ops_toolkit.slo.model import SLI, SLO, LatencySLI, RatioSLI, RawSLI, SLOFile, Window
from ops_toolkit.slo.selector import METRIC, parse_braces
from ops_toolkit.suggest import did_you_mean
from ops_toolkit.yamlpath import Node, check_timezone, parse_documents, read_text, show

_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
# Set by ops on every generated series (service, slo) or alert (tier, long, short, missing).


def parse_slo_file(text: str, source: str, shared: Shared | None = None) -> SLOFile:
    """Parse one file in any format of ``FORMATS``, picked by its first document's version.

    ``shared`` holds objects of other files this one may refer to (see ``load_slo_files``).
    """
    parsed = _read(documents(text, source), source, shared)
    if not parsed.slos:
        raise ConfigError(f"{source}: no SLO in this file (OpenSLO: no document of kind SLO)")
    return parsed


def _read(found: list[Node], source: str, shared: Shared | None) -> SLOFile:
    if not found:
        raise ConfigError(f"{source}: empty file; expected 'version: ops/v1' or OpenSLO documents")
    key = format_key(found[0])
    reader = FORMATS.get(key)
    if reader is None:
        field = "apiVersion" if "apiVersion" in found[0].value else "version"
        hint = did_you_mean(key, FORMATS)
        raise (
            found[0]
            .child(field)
            .error(f"unknown format {key!r}{hint} (known: {', '.join(FORMATS)})")
        )
    return reader(found, source, shared)


def _ops_v1_file(found: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    if len(found) > 1:
        raise ConfigError(f"{source}: an ops/v1 file holds one YAML document, found {len(found)}")
    return _ops_v1(found[0])


# -- ops/v1 -------------------------------------------------------------------------------

_TOP_KEYS = ("version", "service", "runbook", "labels", "slos", "description")
_SLO_KEYS = (
    "name",
    "objective",
    "window",
    "calendar",
    "timezone",
    "description",
    "sli",
    "runbook",
    "labels",
    "alerting",
    "corrections",
)


def _ops_v1(root: Node) -> SLOFile:
    root.mapping(_TOP_KEYS)
    version = root.text("version")
    if version != "ops/v1":
        raise root.child("version").error(f"expected 'ops/v1', got {version!r}")
    service = _name(root, "service")
    runbook = root.text("runbook", required=False)
    labels = _labels(root.child("labels"))
    slos: list[SLO] = []
    seen: dict[str, str] = {}
    items = root.child("slos")
    if items.value is None:
        raise items.error("is required: a list of SLOs")
    for node in items.items():
        node.mapping(_SLO_KEYS)
        name = _name(node, "name")
        if name in seen:
            raise node.child("name").error(f"duplicate SLO name {name!r} (first at {seen[name]})")
        seen[name] = node.path
        window = _window(node)
        slos.append(
            SLO(
                service=service,
                name=name,
                objective=_objective(node.child("objective")),
                window=window,
                sli=_sli(node.child("sli")),
                source=root.source,
                path=node.path,
                description=node.text("description", required=False) or "",
                runbook=node.text("runbook", required=False) or runbook,
                labels={**labels, **_labels(node.child("labels"))},
                alerting=parse_alerting(node, window),
                corrections=parse_corrections(node.child("corrections")),
            )
        )
    if not slos:
        raise items.error("is empty; define at least one SLO")
    return SLOFile(root.source, service, tuple(slos))


def _name(node: Node, key: str) -> str:
    value = node.text(key)
    assert value is not None
    if not _NAME.fullmatch(value):
        raise node.child(key).error(f"expected lowercase letters, digits and '-', got {value!r}")
    return value


def _labels(node: Node) -> dict[str, str]:
    if node.value is None:
        return {}
    node.mapping(node.value.keys() if isinstance(node.value, dict) else ())
    labels = {}
    for key in node.value:
        problem = label_problem(key)
        if problem is not None:
            raise node.child(str(key)).error(problem)
        labels[key] = node.text(key) or ""
    return labels


def _objective(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise node.error(f"expected a number between 0 and 100 (exclusive), got {show(value)}")
    if not 0 < value < 100:  # no float(): an integer of 400 digits overflows it
        raise node.error(
            f"expected a number between 0 and 100 (exclusive), got {shorten(str(value))}"
        )
    if value < 1:  # a fraction read as a percent: 0.999 would be a 0.999% objective
        raise node.error(
            f"objectives are percentages, got {value} (did you mean {float(value) * 100:g}?)"
        )
    return float(value)


def _window(node: Node) -> Window:
    timezone = node.text("timezone", required=False) or "UTC"
    check_timezone(node.child("timezone"), timezone)
    calendar = node.text("calendar", required=False)
    if calendar is not None:
        if node.has("window"):
            raise node.child("calendar").error(
                "give either 'window' (rolling) or 'calendar', not both"
            )
        if calendar not in ("week", "month", "quarter"):
            raise node.child("calendar").error(f"expected week, month or quarter, got {calendar!r}")
        return Window(seconds=0, calendar=calendar, timezone=timezone)
    raw = node.text("window", required=False) or "30d"
    window_node = node.child("window")
    if isinstance(window_node.value, dict):
        raise window_node.error(
            "expected a duration like 30d; for calendar windows use 'calendar: month'"
        )
    return Window(seconds=_rolling_seconds(window_node, raw, "30d or 28d"), timezone=timezone)


def _rolling_seconds(node: Node, raw: str, example: str) -> int:
    """A rolling window's seconds: a duration from 1h to 3650d, in whole seconds."""
    try:
        seconds = parse_duration(raw)
    except DurationTooLong:
        raise node.error(f"expected a window of at most 3650d, got {show(raw)}") from None
    except ValueError:
        raise node.error(f"expected a duration like {example}, got {show(raw)}") from None
    if seconds < 3600 or seconds != int(seconds):
        raise node.error(f"expected a window of at least 1h in whole seconds, got {show(raw)}")
    return int(seconds)


def _ratio(node: Node) -> SLI:
    node.mapping(("good", "bad", "total"))
    if node.has("good") and node.has("bad"):
        raise node.error("give exactly one of 'good' or 'bad', not both")
    if not node.has("good") and not node.has("bad"):
        raise node.error("give exactly one of 'good' or 'bad'")
    kind = "good" if node.has("good") else "bad"
    counted = selector(node, kind)
    total = selector(node, "total")
    return (
        RatioSLI(total=total, good=counted)
        if kind == "good"
        else RatioSLI(total=total, bad=counted)
    )


MAX_LATENCY = 1e9  # seconds: a latency threshold beyond is a typo (float() overflowed)


def _latency(node: Node) -> SLI:
    node.mapping(("histogram", "selector", "below"))
    histogram = node.text("histogram")
    assert histogram is not None
    if histogram.endswith(("_bucket", "_count", "_sum")) or not METRIC.fullmatch(histogram):
        raise node.child("histogram").error(
            f"expected the histogram's metric name without _bucket, got {histogram!r}"
        )
    matchers = node.text("selector", required=False) or "{}"
    try:
        parse_braces(matchers)
    except SelectorError as error:
        raise node.child("selector").error(f"not label matchers in braces: {error}") from None
    below = node.child("below").value
    if isinstance(below, bool) or not isinstance(below, int | float) or below <= 0:
        raise node.child("below").error(f"expected seconds as a positive number, got {show(below)}")
    if not below <= MAX_LATENCY:  # also nan; and no float() of a 400-digit integer
        raise node.child("below").error(
            f"expected seconds up to {MAX_LATENCY:g}, got {show(below)}"
        )
    return LatencySLI(histogram=histogram, selector=matchers, below=float(below))


def _raw(node: Node) -> SLI:
    node.mapping(("bad_query", "total_query"))
    queries = []
    for key in ("bad_query", "total_query"):
        query = node.text(key)
        assert query is not None
        if "{{window}}" not in query:
            raise node.child(key).error(
                "must contain {{window}} where the range goes, e.g. [{{window}}]"
            )
        problem = query_problem(query)
        if problem is not None:
            raise node.child(key).error(problem)
        queries.append(query)
    return RawSLI(bad_query=queries[0], total_query=queries[1])


SLI_KINDS: dict[str, Callable[[Node], SLI]] = {"ratio": _ratio, "latency": _latency, "raw": _raw}


def _sli(node: Node) -> SLI:
    if not isinstance(node.value, dict):
        raise node.error(f"expected one of {', '.join(SLI_KINDS)} with its settings")
    if len(node.value) != 1:
        raise node.error(
            f"expected exactly one SLI kind ({', '.join(SLI_KINDS)}), got "
            f"{', '.join(map(str, node.value)) or 'none'}"
        )
    kind = next(iter(node.value))
    if kind not in SLI_KINDS:
        hint = did_you_mean(str(kind), SLI_KINDS)
        raise node.error(f"unknown SLI kind {kind!r}{hint} (valid: {', '.join(SLI_KINDS)})")
    return SLI_KINDS[kind](node.child(kind))


# The other formats' readers are imported when a file of theirs is read: a report over
# ops/v1 files does not pay for them (issue 15: a tenth of the report's start-up).


def _openslo(found: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    from ops_toolkit.slo.formats import openslo

    return openslo.read(found, source, shared)


def _sloth(found: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    from ops_toolkit.slo.formats import sloth

    return sloth.read(found, source, shared)


def _sloth_kubernetes(found: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    from ops_toolkit.slo.formats import sloth

    return sloth.read_kubernetes(found, source, shared)


def _pyrra(found: list[Node], source: str, shared: Shared | None = None) -> SLOFile:
    from ops_toolkit.slo.formats import pyrra

    return pyrra.read(found, source, shared)


FORMATS: dict[str, Reader] = {
    "ops/v1": _ops_v1_file,
    "openslo/v1": _openslo,
    "openslo/v1alpha": _openslo,
    "prometheus/v1": _sloth,
    "sloth.slok.dev/v1": _sloth_kubernetes,
    "pyrra.dev/v1alpha1": _pyrra,
}
OPENSLO_APIS = ("openslo/v1", "openslo/v1alpha")  # the versions of OpenSLO's documents


def shared_objects(found: Iterable[Node], errors: list[ConfigError] | None = None) -> Shared:
    """The OpenSLO objects (SLIs, DataSources, alert policies) any file given may refer to;
    none, and the OpenSLO reader not imported, when no document is OpenSLO."""
    nodes = [
        node
        for node in found
        if isinstance(node.value, dict) and node.value.get("apiVersion") in OPENSLO_APIS
    ]
    if not nodes:
        return {}
    from ops_toolkit.slo.formats import openslo

    return openslo.objects(nodes, errors)


# -- files --------------------------------------------------------------------------------


def slo_files(paths: Iterable[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found += sorted(
                os.path.join(path, f) for f in os.listdir(path) if f.endswith((".yaml", ".yml"))
            )
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise ConfigError(
                f"{path}: no such file or directory; give SLO files or directories, or set "
                "slos: in ops.yaml"
            )
    return found


def load_slo_files(paths: Iterable[str], errors: list[ConfigError] | None = None) -> list[SLOFile]:
    """Every SLO file under ``paths``; SLO keys must be unique across files.

    Files are read in two passes: first every file's documents, so that an OpenSLO SLO can
    refer to an SLI, DataSource or alert policy in another file given; then each file. A
    file holding only such objects adds no SLOs and is not an error. With ``errors``, a bad
    file's error is appended there and the other files are still read (``ops check``).

    ``corrections.yaml`` files are not SLO files: their corrections are attached to the SLOs
    they name (see ``slo/corrections.py``). One given, or found in a directory given, must
    name only SLOs loaded here; the one beside an SLO file given alone applies to that
    file's SLOs and may name others.
    """
    given = list(paths)
    found = slo_files(given)
    corrections = [(path, True) for path in found if is_corrections_file(path)]
    for path in given:
        if os.path.isfile(path) and not is_corrections_file(path):
            beside = os.path.join(os.path.dirname(path), CORRECTIONS_FILE)
            known_paths = {os.path.normpath(p) for p, _ in corrections}
            if os.path.isfile(beside) and os.path.normpath(beside) not in known_paths:
                corrections.append((beside, False))
    parsed_documents = []
    for path in found:
        if is_corrections_file(path):
            continue
        try:
            parsed_documents.append((path, documents(read_text(path), path)))
        except ConfigError as error:
            if errors is None:
                raise
            errors.append(error)
    shared = shared_objects((node for _, found in parsed_documents for node in found), errors)
    files = []
    seen: dict[str, str] = {}
    for path, found_nodes in parsed_documents:
        try:
            parsed = _read(found_nodes, path, shared)
        except ConfigError as error:
            if errors is None:
                raise
            errors.append(error)
            continue
        for slo in parsed.slos:
            if slo.key in seen:
                duplicate = ConfigError(
                    f"{slo.place}: SLO {slo.key} is also defined in {seen[slo.key]}"
                )
                if errors is None:
                    raise duplicate
                errors.append(duplicate)
            seen.setdefault(slo.key, slo.place)
        if parsed.slos:
            files.append(parsed)
    if parsed_documents and not files and errors is None:
        raise ConfigError(f"{', '.join(p for p, _ in parsed_documents)}: no SLO in the files given")
    table: dict[str, tuple[Correction, ...]] = {}
    for path, strict in corrections:
        try:
            for key, found_corrections in read_corrections_file(path, seen, strict=strict).items():
                table[key] = table.get(key, ()) + found_corrections
        except ConfigError as error:
            if errors is None:
                raise
            errors.append(error)
    if table:
        files = [dataclasses.replace(f, slos=tuple(attach(f.slos, table))) for f in files]
    return files


def read_corrections_file(
    path: str, known: Iterable[str], *, strict: bool = True
) -> dict[str, tuple[Correction, ...]]:
    """The corrections ``slos/corrections.yaml`` holds per SLO key (one YAML document)."""
    found = parse_documents(read_text(path), path)
    if len(found) > 1:
        raise ConfigError(f"{path}: a corrections file holds one YAML document, found {len(found)}")
    return parse_corrections_file(Node(found[0] if found else None, "", path), known, strict=strict)


def load_slos(paths: Iterable[str]) -> list[SLO]:
    return [slo for file in load_slo_files(paths) for slo in file.slos]


def datasource_url(slos: Iterable[SLO]) -> str | None:
    """The Prometheus URL the SLO files name (OpenSLO DataSource), used when none is given."""
    urls = sorted({slo.datasource for slo in slos if slo.datasource})
    if len(urls) > 1:
        raise ConfigError(
            f"the SLOs name different Prometheus data sources ({', '.join(urls)}); "
            "give --prometheus, or report them separately"
        )
    return urls[0] if urls else None
