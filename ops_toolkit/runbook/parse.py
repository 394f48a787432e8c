"""Markdown runbook -> ``Runbook``. Parses, nothing else: checks that need judgement live in lint.

A step is a fenced code block whose info string is a language and, after a space, a flat JSON
object of string values (Runme's syntax), or Runme's older ``{ key=value }`` form. A fence
without attributes is documentation.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

from ops_toolkit import strictjson
from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.kinds import SHELL_LANGUAGES
from ops_toolkit.runbook.model import Fence, Param, Runbook, Step
from ops_toolkit.suggest import did_you_mean
from ops_toolkit.yamlpath import DuplicateKey, expanded_size
from ops_toolkit.yamlpath import SafeLoader as _YAML_LOADER

MAX_BYTES = 1024 * 1024
# YAML aliases share one value among many places: 8 levels of 10 aliases make 10^8 values
# from 1 KiB (a "billion laughs"); anything walking them would run out of time or memory.
MAX_FRONT_MATTER_VALUES = 100_000
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_TOML_END = re.compile(r"^\+\+\+[ \t]*\r?$", re.MULTILINE)
_OLD_ATTR = re.compile(r'\s*([A-Za-z_][\w-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_PARAM_KEYS = ("default", "pattern", "choices", "required", "from_label", "description", "secret")
FRONT_KEYS = ("title", "owner", "alerts", "params", "secrets", "env", "shell", "cwd", "description")

# Languages Runme runs in a shell even without attributes (lint tells how to make them steps).
RUNME_SHELLS = frozenset({"sh", "bash", "shell", "zsh", "sh-raw"})

_markdown: Any = None


def _parser() -> Any:
    global _markdown
    if _markdown is None:
        from markdown_it import MarkdownIt

        _markdown = MarkdownIt("commonmark")
    return _markdown


def read_runbook(path: str) -> Runbook:
    """Read and parse a runbook file; every failure is a ``RunbookError`` naming the file."""
    return parse_runbook_bytes(_read(path), path)


def read_runbook_problems(path: str) -> tuple[Runbook | None, list[RunbookError]]:
    """Read and parse a runbook file, going on past every error the parser can (a step's
    attributes, a duplicate step name, a front matter value): the runbook without what was
    wrong, and every error in the file's order, so lint reports them in one pass. None when
    the file cannot be parsed at all (unreadable, not text, front matter that never ends)."""
    try:
        text = _decode(_read(path), path)
    except RunbookError as error:
        return None, [error]
    return parse_runbook_problems(text, path)


def parse_runbook_problems(text: str, source: str) -> tuple[Runbook | None, list[RunbookError]]:
    """``read_runbook_problems`` for ``text``."""
    problems: list[RunbookError] = []
    try:
        return _parse(text, source, problems), problems
    except RunbookError as error:  # nothing to go on with
        return None, [*problems, error]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise RunbookError.at(path, None, "no such file") from None
    except OSError as exc:
        raise RunbookError.at(path, None, f"cannot read: {exc.strerror}") from None


def parse_runbook_bytes(data: bytes, source: str) -> Runbook:
    return parse_runbook(_decode(data, source), source)


def _decode(data: bytes, source: str) -> str:
    if len(data) > MAX_BYTES:
        raise RunbookError.at(source, None, "file is larger than 1 MiB; split the runbook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RunbookError.at(source, line, "file is not valid UTF-8") from None
    return text


def parse_runbook(text: str, source: str) -> Runbook:
    """Parse runbook ``text``; ``source`` names it in errors (usually the path). The first
    error in the file is raised (``read_runbook_problems`` gives them all)."""
    problems: list[RunbookError] = []
    runbook = _parse(text, source, problems)
    if problems:
        raise problems[0]
    return runbook


def _parse(text: str, source: str, problems: list[RunbookError]) -> Runbook:
    """Errors the parser can go on past go to ``problems``; the others are raised."""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text[: exc.start].count("\n") + 1
        raise RunbookError.at(
            source, line, "text is not valid Unicode (a lone surrogate)"
        ) from None
    if len(encoded) > MAX_BYTES:
        raise RunbookError.at(source, None, "file is larger than 1 MiB; split the runbook")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise RunbookError.at(source, line, "file contains a NUL byte; is it a text file?")
    meta, meta_lines, body, offset = _split_front_matter(text, source)
    steps, unrun = _parse_steps(body, offset, source, problems)
    # keys whose value is refused (its error is in problems); "steps": a fence was refused
    unreadable: set[str] = {"steps"} if problems else set()

    def going_on(key: str, fallback: T, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except RunbookError as error:
            problems.append(error)
            unreadable.add(key)
            return fallback

    def string(key: str) -> str | None:
        return going_on(key, None, lambda: _string(meta, key, source, meta_lines))

    def strings(key: str) -> tuple[str, ...]:
        return going_on(key, (), lambda: _string_list(meta, key, source, meta_lines))

    title = string("title") or _first_heading(body) or ""
    return Runbook(
        source=source,
        sha256=hashlib.sha256(encoded).hexdigest(),
        title=title,
        owner=string("owner") or "",
        alerts=strings("alerts"),
        params=_params(meta, source, meta_lines, problems, unreadable),
        secrets=strings("secrets"),
        env=strings("env"),
        shell=string("shell"),
        cwd=string("cwd"),
        steps=steps,
        front_matter_line=meta_lines,
        other_front_matter={k: v for k, v in meta.items() if k not in FRONT_KEYS},
        unrun_shell_blocks=unrun,
        unreadable=frozenset(unreadable),
    )


T = TypeVar("T")


def _split_front_matter(text: str, source: str) -> tuple[dict[str, Any], dict[str, int], str, int]:
    """YAML front matter between ``---`` lines, or TOML between ``+++`` lines (Hugo, Runme).

    Every key is kept, known to ops or not: a Hugo page or a Runme notebook opens as it is,
    and lint says which keys ops ignores.
    """
    if not text.startswith(("---\n", "---\r\n", "+++\n", "+++\r\n")):
        return {}, {}, text, 0
    delimiter = text[:3]
    start = text.index("\n") + 1
    closing = _FRONT_MATTER_END if delimiter == "---" else _TOML_END
    end = closing.search(text, start)
    if end is None:
        raise RunbookError.at(source, 1, f"front matter starts with '{delimiter}' but never ends")
    raw = text[start : end.start()]
    after = text.find("\n", end.end())
    body = "" if after < 0 else text[after + 1 :]
    offset = text[: after + 1].count("\n") if after >= 0 else text.count("\n") + 1
    loaded = _load_yaml(raw, source) if delimiter == "---" else _load_toml(raw, source)
    if expanded_size(loaded, MAX_FRONT_MATTER_VALUES) > MAX_FRONT_MATTER_VALUES:
        raise RunbookError.at(
            source,
            2,
            f"front matter expands to more than {MAX_FRONT_MATTER_VALUES:,} values through "
            "YAML aliases; write the values out",
        )
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise RunbookError.at(source, 2, "front matter must be a YAML mapping (key: value)")
    return {str(k): v for k, v in loaded.items()}, _key_lines(raw, 2), body, offset


def _load_yaml(raw: str, source: str) -> Any:
    try:
        return yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, DuplicateKey):
            problem = exc.problem_at(2)  # the front matter starts on the file's line 2
        raise RunbookError.at(source, line, f"front matter is not valid YAML: {problem}") from None


def _load_toml(raw: str, source: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line ([0-9]+), column [0-9]+\)$", str(exc))
        line = int(match.group(1)) + 1 if match else 1
        problem = re.sub(r"\s*\(at (?:line [0-9]+, column [0-9]+|end of document)\)$", "", str(exc))
        raise RunbookError.at(source, line, f"front matter is not valid TOML: {problem}") from None
    except RecursionError:  # tomllib recurses once per nested array or table
        raise RunbookError.at(
            source, 2, "front matter is not valid TOML: nested too deeply"
        ) from None
    except ValueError:  # an integer over Python's digit limit (tomllib uses int())
        digits = re.search(rf"[0-9]{{{sys.get_int_max_str_digits() + 1},}}", raw)
        line = raw[: digits.start()].count("\n") + 2 if digits else 2
        raise RunbookError.at(
            source,
            line,
            "front matter is not valid TOML: an integer of more than "
            f"{sys.get_int_max_str_digits()} digits",
        ) from None


def _key_lines(raw: str, first_line: int) -> dict[str, int]:
    """Line of each top-level and params key, so errors can point at them."""
    lines: dict[str, int] = {}
    for number, line in enumerate(raw.splitlines(), first_line):
        match = re.match(r"^(\s{0,4})([A-Za-z_][\w-]*)\s*[:=]", line)
        if match:
            key = match.group(2)
            lines.setdefault(key if not match.group(1) else f"params.{key}", number)
    return lines


def _string(meta: dict[str, Any], key: str, source: str, lines: dict[str, int]) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise RunbookError.at(source, lines.get(key, 1), f"front matter '{key}' must be a string")
    return str(value)


def _string_list(
    meta: dict[str, Any], key: str, source: str, lines: dict[str, int]
) -> tuple[str, ...]:
    value = meta.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RunbookError.at(
            source, lines.get(key, 1), f"front matter '{key}' must be a list of strings"
        )
    return tuple(value)


def _params(
    meta: dict[str, Any],
    source: str,
    lines: dict[str, int],
    problems: list[RunbookError],
    unreadable: set[str],
) -> tuple[Param, ...]:
    """Each param that parses; the error of each one that does not goes to ``problems``,
    its name (``params.NAME``) to ``unreadable``."""
    raw = meta.get("params")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        unreadable.add("params")
        problems.append(
            RunbookError.at(
                source, lines.get("params", 1), "front matter 'params' must be a mapping"
            )
        )
        return ()
    params = []
    for name, spec in raw.items():
        line = lines.get(f"params.{name}", lines.get("params", 1))
        try:
            params.append(_param(name, spec, source, line))
        except RunbookError as error:
            problems.append(error)
            unreadable.add(f"params.{name}")
    return tuple(params)


def _param(name: Any, spec: Any, source: str, line: int) -> Param:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise RunbookError.at(
            source, line, f"param {name!r}: name must be an environment variable name"
        )
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        spec = {"default": spec}
    for key in spec:
        if key not in _PARAM_KEYS:
            hint = did_you_mean(str(key), _PARAM_KEYS)
            raise RunbookError.at(source, line, f"param {name}: unknown key {key!r}{hint}")
    choices = spec.get("choices") or ()
    if not isinstance(choices, list | tuple):
        raise RunbookError.at(source, line, f"param {name}: 'choices' must be a list")
    if not all(isinstance(c, str | int | float) for c in choices):
        raise RunbookError.at(source, line, f"param {name}: 'choices' must be a list of strings")

    def text(key: str) -> str | None:
        value = spec.get(key)
        if value is None:
            return None
        if isinstance(value, dict | list):
            raise RunbookError.at(source, line, f"param {name}: '{key}' must be a string")
        return _scalar(value)

    return Param(
        name=name,
        line=line,
        default=text("default"),
        pattern=text("pattern"),
        choices=tuple(_scalar(c) for c in choices),
        required=bool(spec.get("required", False)),
        from_label=text("from_label"),
        description=text("description") or "",
        secret=bool(spec.get("secret", False)),
    )


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _first_heading(body: str) -> str | None:
    match = re.search(r"^#[ \t]+(.+?)[ \t#]*$", body, re.MULTILINE)
    return match.group(1) if match else None


def _parse_steps(
    body: str, offset: int, source: str, problems: list[RunbookError]
) -> tuple[tuple[Step, ...], tuple[Fence, ...]]:
    """The steps, and the shell blocks Runme would run; a fence that is wrong (its
    attributes, a name taken) is left out, its error in ``problems``."""
    fences = list(_fences(body, offset, source, problems))
    explicit = {f.attributes["name"] for f in fences if f.attributes and f.attributes.get("name")}
    namer = _RunmeNamer(explicit)
    steps: list[Step] = []
    unrun: list[Fence] = []
    seen: dict[str, int] = {}
    for fence in fences:
        given = (fence.attributes or {}).get("name")
        name = namer.name(given, fence.code)
        if fence.attributes is None:  # documentation; named all the same, as Runme counts it
            if fence.language.lower() in RUNME_SHELLS:
                unrun.append(Fence(fence.language, fence.line, name))
            continue
        if given and given in seen:
            problems.append(
                RunbookError.at(
                    source,
                    fence.line,
                    f"step {given!r}: duplicate name (first used on line {seen[given]})",
                )
            )
            continue
        seen[name] = fence.line
        language = fence.language.lower()
        steps.append(
            Step(
                name=name,
                kind=SHELL_LANGUAGES.get(language, language),
                code=fence.code,
                attributes=fence.attributes,
                section=fence.section,
                line=fence.line,
                end_line=fence.end_line,
                info_line=fence.info,
                language=fence.language,
                named=bool(given),
            )
        )
    return tuple(steps), tuple(unrun)


@dataclass(frozen=True)
class _RawFence:
    language: str
    attributes: dict[str, str] | None
    code: str
    section: tuple[str, ...]
    line: int
    end_line: int
    info: str


def _fences(
    body: str, offset: int, source: str, problems: list[RunbookError]
) -> Iterator[_RawFence]:
    tokens = _parser().parse(body)
    body_lines = body.splitlines()
    headings: list[tuple[int, str]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1:])
            title = tokens[index + 1].content if index + 1 < len(tokens) else ""
            headings = [(lvl, t) for lvl, t in headings if lvl < level]
            headings.append((level, title))
            continue
        if token.type != "fence" or token.map is None:
            continue
        line = token.map[0] + offset + 1
        if not _is_closed(token, body_lines):  # it runs to the end: nothing follows it
            problems.append(
                RunbookError.at(source, line, "code fence is never closed (add a closing ``` line)")
            )
            continue
        info = token.info.strip()
        lang, _, rest = info.partition(" ")
        lang, rest = lang.strip(), rest.strip()
        if "{" in lang:  # ```sh{"name":"x"} or ```{"name":"x"}
            lang, rest = lang[: lang.index("{")], lang[lang.index("{") :] + rest
        try:
            attributes = _attributes(rest, source, line) if rest.startswith("{") else None
        except RunbookError as error:
            problems.append(error)
            continue
        yield _RawFence(
            language=lang,
            attributes=attributes,
            code=token.content,
            section=tuple(t for lvl, t in headings if lvl > 1),
            line=line,
            end_line=token.map[1] + offset,
            info=info,
        )


class _RunmeNamer:
    """Names every fence as Runme does, so ``--step`` takes the names Runme shows.

    A fence without a ``name`` is named after its first command (see ``runme_name``); the
    n-th fence with the same name gets ``-n``. Unlike Runme, a name given in the file is
    never changed: an automatic name that would take it gets the next number instead.
    """

    def __init__(self, explicit: set[str]) -> None:
        self.explicit = explicit
        self.counts: dict[str, int] = {}
        self.used: set[str] = set()

    def name(self, given: str | None, code: str) -> str:
        base = given or runme_name(code) or "step"
        self.counts[base] = self.counts.get(base, 0) + 1
        if given:
            self.used.add(given)
            return given
        number = self.counts[base]
        candidate = base if number == 1 else f"{base}-{number}"
        while candidate in self.explicit or candidate in self.used:
            number += 1
            candidate = f"{base}-{number}"
        self.used.add(candidate)
        return candidate


def runme_name(code: str) -> str:
    """Runme's name for an unnamed cell: its first command, cut to two lowercase words.

    The first line that is not a comment (leading ``$`` prompts dropped, ``#`` comments cut
    off); before any ``=`` (``export X=1`` is named ``export-x``); its first 32 bytes and
    first two space-separated words; lowercase ``a-z0-9`` kept, spaces made ``-``.
    """
    lines = [line.lstrip("$").rstrip() for line in code.splitlines()]
    commands = [c for c in (line.strip().split("#", 1)[0].rstrip() for line in lines) if c]
    first = commands[0] if commands else (lines[0] if lines else "")
    equals = first.find("=")
    while equals > 0:
        first = first[:equals]
        equals = first.find("=")
    first = first.encode("utf-8")[:32].decode("utf-8", "ignore")
    first = " ".join(first.split(" ")[:2])
    name: list[str] = []
    for char in first.lower():
        if char == " " and name:
            name.append("-")
        elif "0" <= char <= "9" or "a" <= char <= "z":
            name.append(char)
    return "".join(name)


def _is_closed(token: Any, lines: list[str]) -> bool:
    last = token.map[1] - 1
    if last <= token.map[0] or last >= len(lines):
        return False
    closing = lines[last].lstrip(" \t>").strip()
    char = token.markup[0]
    return closing.startswith(token.markup) and set(closing) == {char}


def _attributes(raw: str, source: str, line: int) -> dict[str, str]:
    try:
        loaded = strictjson.loads(raw)
    except strictjson.DuplicateKeyError as exc:
        raise RunbookError.at(source, line, f"step attributes name {exc.key!r} twice") from None
    except json.JSONDecodeError as exc:
        old = _old_style_attributes(raw)
        if old is not None:
            return old
        raise RunbookError.at(
            source,
            line,
            f"step attributes are not valid JSON: {exc.msg} (column {exc.colno} of the attributes)",
        ) from None
    except RecursionError:  # json.loads recurses once per nested array or object
        raise RunbookError.at(
            source, line, "step attributes are nested too deeply; values must be strings"
        ) from None
    except ValueError:  # an integer over Python's digit limit (json.loads uses int())
        raise RunbookError.at(
            source, line, "step attributes hold a number too long to read; write values as strings"
        ) from None
    if not isinstance(loaded, dict):
        raise RunbookError.at(source, line, "step attributes must be a JSON object")
    attributes: dict[str, str] = {}
    for key, value in loaded.items():
        if isinstance(value, dict | list) or value is None:
            raise RunbookError.at(
                source, line, f"step attribute {key!r} must be a string, got {json.dumps(value)}"
            )
        attributes[key] = _scalar(value)
    return attributes


def _old_style_attributes(raw: str) -> dict[str, str] | None:
    """Runme's older ``{ name=foo interactive=false }`` form, or None if it is not that."""
    inner = raw.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        return None
    inner = inner[1:-1]
    attributes: dict[str, str] = {}
    position = 0
    while position < len(inner):
        if inner[position:].strip() == "":
            break
        match = _OLD_ATTR.match(inner, position)
        if not match or match.end() == position:
            return None
        value = match.group(2)
        if value.startswith('"'):
            value = json.loads(value)
        attributes[match.group(1)] = value
        position = match.end()
    return attributes or None
