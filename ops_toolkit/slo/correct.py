"""``ops slo correct``: append a one-off correction to the file that holds it.

An ops/v1 SLO gets it in its own ``corrections:`` list; an SLO of any other format in the
``corrections.yaml`` beside its file (created when missing). The file is edited as text, not
re-dumped: one line is inserted and every other byte stays as the team wrote it (comments,
order, quoting). The new text is parsed again before it is written, and the written file
once more after; should either fail, the file keeps (or gets back) its old bytes.

The text edits are pure (``insert_correction``); ``add_correction`` does the IO.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import yaml

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.corrections import CORRECTIONS_FILE, Correction, reason_problem
from ops_toolkit.slo.model import SLO
from ops_toolkit.yamlpath import SafeLoader

_PLAIN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")


@dataclass(frozen=True)
class Written:
    """Where a correction went: the file, whether that file was created, and whether the
    very same correction was there already (nothing written: a command run twice, by a
    script's retry or a second engineer, must not count the events out twice in the file)."""

    path: str
    created: bool
    correction: Correction
    slo: SLO
    already: bool = False


def entry(start: datetime, end: datetime, reason: str) -> str:
    """The correction as one YAML flow mapping (the reason JSON-quoted: valid YAML)."""
    return (
        f"{{start: {_z(start)}, end: {_z(end)}, reason: {json.dumps(reason, ensure_ascii=False)}}}"
    )


def _z(moment: datetime) -> str:
    utc = moment.astimezone(UTC)  # strftime's %Y writes the year 1 as "1", not "0001"
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


def insert_correction(text: str, source: str, keys: Sequence[str | int], item: str) -> str:
    """``text`` with ``item`` appended to the list at ``keys`` (ops/v1:
    ``["slos", 2, "corrections"]``; corrections.yaml: ``["corrections", "svc/slo"]``).

    Missing keys on the way are created, as is the list. Only whole lines are inserted,
    except into a list written in flow style (``[...]``), which gets the item before its
    closing bracket, and an explicit null (``corrections: ~``), which the list replaces.
    The lines added end as the file's first line does (``\r\n`` in a Windows-edited file).
    """
    lines = text.splitlines(keepends=True)
    newline = line_ending(text)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if node is None:  # an empty file: the whole path from the top
        return _insert(lines, len(lines) - 1, 0, list(keys), item, newline)
    for depth, key in enumerate(keys):
        if isinstance(key, int):
            if not isinstance(node, yaml.SequenceNode) or key >= len(node.value):
                raise ConfigError(f"{source}: cannot find the SLO to correct")
            node = node.value[key]
            continue
        if not isinstance(node, yaml.MappingNode) or node.flow_style:
            raise ConfigError(
                f"{source}: {_path(keys[:depth])}: cannot add a correction to a value written "
                "in flow style or not a mapping; add it by hand"
            )
        pair = next(((k, v) for k, v in node.value if k.value == key), None)
        if pair is None:
            indent = node.value[0][0].start_mark.column
            return _insert(lines, _last_line(node), indent, list(keys[depth:]), item, newline)
        key_node, node = pair
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            row = key_node.start_mark.line
            if node.value:  # `key: ~` or `key: null`: the list takes the value's place
                line = lines[row]
                lines[row] = line[: node.start_mark.column].rstrip() + line[node.end_mark.column :]
            return _insert(
                lines, row, key_node.start_mark.column + 2, list(keys[depth + 1 :]), item, newline
            )
    if isinstance(node, yaml.SequenceNode):
        if node.flow_style:
            return _append_flow(text, node, item)
        return _insert(lines, _last_line(node), node.start_mark.column, [], item, newline)
    raise ConfigError(f"{source}: {_path(keys)}: expected a list to add to")


def _path(keys: Sequence[str | int]) -> str:
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out or "(top)"


def _append_flow(text: str, node: yaml.Node, item: str) -> str:
    close = node.end_mark.index - 1  # the ']'
    before = text[node.start_mark.index + 1 : close].strip().rstrip(",")
    head = text[:close].rstrip()
    separator = ", " if before else ""
    if head.endswith(","):
        head, separator = head[:-1].rstrip(), ", "
    return head + f"{separator}{item}" + text[close:]


def line_ending(text: str) -> str:
    """``\r\n`` when the text's first line ends so, else ``\n``."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _insert(
    lines: list[str], after: int, indent: int, keys: list[str | int], item: str, newline: str
) -> str:
    """``keys`` as nested lines, then ``- item``, inserted after line ``after`` (0-based)."""
    added = [f"{' ' * (indent + 2 * n)}{_key(str(key))}:{newline}" for n, key in enumerate(keys)]
    added.append(f"{' ' * (indent + 2 * len(keys))}- {item}{newline}")
    return "".join([*lines[: after + 1], *added, *lines[after + 1 :]])


def _key(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) holding ``node``'s content, comments after it not counted."""
    while (
        isinstance(node, yaml.MappingNode | yaml.SequenceNode)
        and node.value
        and not node.flow_style
    ):
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    end = node.end_mark
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        # A block scalar ends after its last line break (and any blank lines it keeps).
        return end.line - 1 if end.column == 0 else end.line
    return end.line


def parse_when(text: str, now: datetime) -> datetime:
    """A time for ``--start``/``--end``: ISO 8601 (without an offset: UTC), unix seconds,
    ``now``, or ``now-2h`` / ``now+30m`` (the durations of SLO windows). ValueError if not."""
    from ops_toolkit.durations import parse_duration

    value = text.strip()
    relative = re.fullmatch(r"now\s*(?:([+-])\s*(\S+))?", value)
    if relative:
        sign, amount = relative.groups()
        if amount is None:
            return now.astimezone(UTC)
        seconds = parse_duration(amount)
        return datetime.fromtimestamp(now.timestamp() + (seconds if sign == "+" else -seconds), UTC)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    from ops_toolkit.slo.corrections import parse_moment

    try:
        return parse_moment(value, ZoneInfo("UTC"))
    except ValueError:
        raise ValueError(
            f"expected ISO 8601 (2026-11-03T14:00:00Z), unix seconds, now or now-2h, got {value!r}"
        ) from None


def add_correction(
    paths: Sequence[str], key: str, start: datetime, end: datetime, reason: str, now: datetime
) -> Written:
    """Append a one-off correction of ``start``..``end`` to SLO ``key`` (see the module doc).

    Refused: an unknown SLO (with a suggestion), an end not after the start, a window that
    starts after ``now`` (planned maintenance belongs in the file, written by a person), an
    empty reason.
    """
    from ops_toolkit.slo.spec import load_slo_files
    from ops_toolkit.suggest import did_you_mean

    if not reason.strip():
        raise ConfigError("--reason: must not be empty: say why these events do not count")
    problem = reason_problem(reason.strip())
    if problem:
        raise ConfigError(f"--reason: {problem}")
    if end <= start:
        raise ConfigError(f"--end: must be after --start ({_z(start)}), got {_z(end)}")
    if start > now:
        raise ConfigError(
            f"--start: {_z(start)} is in the future (now {_z(now)}): a correction records what "
            "happened; write planned maintenance into the SLO file's corrections: (or corrections.yaml) by hand"
        )
    slos = [s for f in load_slo_files(paths) for s in f.slos]
    chosen = next((s for s in slos if s.key == key), None)
    if chosen is None:
        hint = did_you_mean(key, [s.key for s in slos])
        raise ConfigError(f"no SLO {key!r} in {', '.join(paths)}{hint}")
    # Whole seconds, as the file holds them: the start rounded down, the end up.
    start = datetime.fromtimestamp(math.floor(start.timestamp()), UTC)
    end = datetime.fromtimestamp(math.ceil(end.timestamp()), UTC)
    correction = Correction(reason.strip(), start=start, end=end)
    if any(_when(c) == _when(correction) for c in chosen.corrections):
        return Written(_file_of(chosen), False, correction, chosen, already=True)
    line = entry(correction.start, correction.end, correction.reason)  # type: ignore[arg-type]
    path = _file_of(chosen)
    if _is_ops_v1(chosen):
        index = int(chosen.path.rsplit("[", 1)[1].rstrip("]"))
        keys: list[str | int] = ["slos", index, "corrections"]
    else:
        keys = ["corrections", key]
    created = not os.path.exists(path)
    old = b"" if created else _read_bytes(path)
    try:
        old_text = old.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: file is not valid UTF-8") from None
    new_text = insert_correction(old_text, path, keys, line)
    _check_added(old_text, new_text, path, chosen, correction, [s.key for s in slos])
    _write(path, new_text.encode("utf-8"))
    try:
        reloaded = {s.key: s for f in load_slo_files(paths) for s in f.slos}
        found = reloaded[key].corrections
        if not found or _when(found[-1]) != _when(correction):
            raise ConfigError(f"{path}: the correction was written but does not load back")
    except (ConfigError, KeyError) as error:
        if created:
            os.unlink(path)
        else:
            _write(path, old)
        raise ConfigError(f"{path}: not changed: {error}") from None
    return Written(path, created, correction, chosen)


def _file_of(slo: SLO) -> str:
    """The file an SLO's corrections are added to: its own (ops/v1), else the
    corrections.yaml beside it."""
    if _is_ops_v1(slo):
        return slo.source
    return os.path.join(os.path.dirname(slo.source), CORRECTIONS_FILE)


def _when(correction: Correction) -> tuple[object, ...]:
    return (correction.start, correction.end, correction.reason)


def _is_ops_v1(slo: SLO) -> bool:
    from ops_toolkit.slo.formats import documents, format_key
    from ops_toolkit.yamlpath import read_text

    found = documents(read_text(slo.source), slo.source)
    return bool(found) and format_key(found[0]) == "ops/v1"


def _check_added(
    old_text: str, new_text: str, path: str, slo: SLO, correction: Correction, known: list[str]
) -> None:
    """The edited text parses, holds the new correction last, and nothing else changed."""
    if _is_ops_v1(slo):
        from ops_toolkit.slo.spec import parse_slo_file

        before = {s.name: s for s in parse_slo_file(old_text, path).slos}
        after = {s.name: s for s in parse_slo_file(new_text, path).slos}
        added = after[slo.name].corrections
        unchanged = before == {
            **after,
            slo.name: _drop_last(after[slo.name]),
        }
    else:
        from ops_toolkit.slo.corrections import parse_corrections_file
        from ops_toolkit.yamlpath import Node, parse_documents

        def table(text: str) -> dict[str, tuple[Correction, ...]]:
            found = parse_documents(text, path)
            return parse_corrections_file(
                Node(found[0] if found else None, "", path), known, strict=False
            )

        old_table, new_table = table(old_text), table(new_text)
        added = new_table.get(slo.key, ())
        unchanged = old_table == {
            **{k: v for k, v in new_table.items() if k != slo.key},
            **({slo.key: added[:-1]} if added[:-1] or slo.key in old_table else {}),
        }
    if not added or _when(added[-1]) != _when(correction) or not unchanged:
        raise ConfigError(
            f"{path}: cannot add the correction without changing the rest; add it by hand"
        )


def _drop_last(slo: SLO) -> SLO:
    import dataclasses

    return dataclasses.replace(slo, corrections=slo.corrections[:-1])


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _write(path: str, data: bytes) -> None:
    """Replace ``path`` atomically, keeping its mode (``files.write_atomically``: a reader
    sees the old file or the new, never half; nothing planted beside it is followed)."""
    from ops_toolkit.files import GENERATED_MODE, write_atomically

    try:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else GENERATED_MODE
        write_atomically(path, data, mode=mode, durable=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
