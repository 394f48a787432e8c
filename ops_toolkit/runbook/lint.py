"""Checks on parsed runbooks that need judgement: attribute values, references, hazards.

Pure: takes ``Runbook`` values and returns ``Finding`` values; the CLI decides the exit code.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ops_toolkit.runbook.attributes import ATTRIBUTES, ENV_NAME, RUNME_ATTRIBUTES, check_attribute
from ops_toolkit.runbook.environment import is_ops_credential
from ops_toolkit.runbook.expr import parse_expression, variables_in
from ops_toolkit.runbook.kinds import (
    STEP_KINDS,
    carried_exports,
    exported_names,
    kind_for,
    not_runnable,
)
from ops_toolkit.runbook.model import Runbook, Step
from ops_toolkit.runbook.parse import FRONT_KEYS
from ops_toolkit.suggest import did_you_mean

_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z][A-Z0-9]+")
_VARIABLE = re.compile(r"(?<!\\)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGNED = re.compile(
    r"(?:^|[\s;&|(])(?:export\s+|local\s+|declare\s+(?:-\w+\s+)*|readonly\s+)?"
    r"([A-Za-z_][A-Za-z0-9_]*)\+?="
    r"|\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b"
    r"|\bread\s+(?:-\w+\s+)*((?:[A-Za-z_][A-Za-z0-9_]*\s*)+)",
    re.MULTILINE,
)
DIAGNOSE = "diagnose"  # the tag of the read-only steps that ops serve runs unattended
WELL_KNOWN_ENV = frozenset(
    """HOME PATH USER LOGNAME PWD OLDPWD SHELL TMPDIR HOSTNAME LANG LC_ALL TERM TZ UID EUID
    PPID RANDOM SECONDS LINENO IFS BASH_SOURCE BASH_VERSION PIPESTATUS REPLY EDITOR PAGER
    KUBECONFIG AWS_PROFILE AWS_REGION XDG_RUNTIME_DIR XDG_STATE_HOME XDG_CONFIG_HOME CI
    OPS_RUN_ID OPS_STEP OPS_RUNBOOK OPS_PROMETHEUS_URL""".split()
)
# Front matter keys of the tools runbooks come from (Runme, Hugo and its book theme,
# Docusaurus, Jekyll): kept, meaningless to ops, and not worth a warning.
OTHER_TOOLS_FRONT_KEYS = frozenset(
    """runme skipPrompts category terminalRows
    weight bookCollapseSection bookFlatSection bookHidden bookToc bookComments
    bookSearchExclude draft date lastmod publishDate expiryDate aliases slug tags categories
    keywords summary linkTitle menu type layout url toc
    id sidebar_position sidebar_label sidebar_class_name hide_title hide_table_of_contents
    pagination_label custom_edit_url displayed_sidebar authors permalink""".split()
)
DESTRUCTIVE = (
    (
        re.compile(
            r"\brm\s+(?:-\w*[rR]\w*f\w*|-\w*f\w*[rR]\w*|--recursive\s+--force|-r\s+-f|-f\s+-r)\b"
        ),
        "rm -rf",
    ),
    (
        re.compile(r"\bkubectl\s+(?:\S+\s+)*?(?:delete|drain|scale|rollout\s+restart|cordon)\b"),
        "kubectl change",
    ),
    (
        re.compile(r"\bsystemctl\s+(?:\S+\s+)*?(?:restart|stop|kill|disable|mask)\b"),
        "systemctl restart/stop",
    ),
    (
        re.compile(r"\b(?:DROP|TRUNCATE)\s+(?:TABLE|DATABASE|SCHEMA|INDEX)\b", re.IGNORECASE),
        "DROP/TRUNCATE",
    ),
    (re.compile(r"\bDELETE\s+FROM\b", re.IGNORECASE), "DELETE FROM"),
    (re.compile(r"\bterraform\s+(?:apply|destroy)\b"), "terraform apply/destroy"),
    (
        re.compile(r"\bgit\s+push\s+(?:\S+\s+)*?(?:--force\b|-f\b|--force-with-lease\b)"),
        "git push --force",
    ),
    (re.compile(r"\bhelm\s+(?:uninstall|delete|rollback|upgrade)\b"), "helm change"),
    (
        re.compile(r"\b(?:mkfs(?:\.\w+)?|dd\s+if=|shutdown|reboot|kill\s+-9|pkill|killall)\b"),
        "kill/format/reboot",
    ),
    (re.compile(r"\bredis-cli\s+(?:\S+\s+)*?(?:FLUSHALL|FLUSHDB)\b", re.IGNORECASE), "redis flush"),
)


@dataclass(frozen=True)
class Finding:
    """One lint result, printed as ``source:line: level: message``."""

    source: str
    line: int
    level: str  # "error" | "warning" | "note" (a fact worth knowing; never fails lint)
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.level}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.source,
            "line": self.line,
            "level": self.level,
            "rule": self.rule,
            "message": self.message,
        }


def lint_runbooks(
    runbooks: Sequence[Runbook], credential_variables: Collection[str] = ()
) -> list[Finding]:
    """All findings for ``runbooks``, including those that need several files (alert owners).

    ``credential_variables``: the variables ops's configuration reads credentials from
    (``routing_key_env``); a runbook naming one in ``env:`` or ``secrets:`` is an error.
    """
    findings = [f for runbook in runbooks for f in lint_runbook(runbook, credential_variables)]
    claimed: dict[str, Runbook] = {}
    for runbook in runbooks:
        for alert in runbook.alerts:
            first = claimed.setdefault(alert, runbook)
            if first is not runbook:
                findings.append(
                    Finding(
                        runbook.source,
                        runbook.front_matter_line.get("alerts", 1),
                        "error",
                        "duplicate-alert",
                        f"alert {alert!r} is already claimed by {first.source}; "
                        "an alert must lead to one runbook",
                    )
                )
    return sorted(findings, key=lambda f: (f.source, f.line, f.level, f.message))


def lint_runbook(runbook: Runbook, credential_variables: Collection[str] = ()) -> list[Finding]:
    findings: list[Finding] = []
    findings += _lint_front_matter(runbook, credential_variables)
    findings += _lint_params(runbook)
    known = _known_variables(runbook)
    captured: set[str] = set()
    for step in runbook.steps:
        findings += _lint_step(runbook, step, known | captured)
        capture = step.attr("capture")
        if capture:
            captured.add(capture)
        captured.update(carried_exports(step))  # `export REGION=...` reaches later steps
    return findings


def _finding(runbook: Runbook, line: int, level: str, rule: str, message: str) -> Finding:
    return Finding(runbook.source, line, level, rule, message)


def _lint_front_matter(
    runbook: Runbook, credential_variables: Collection[str]
) -> Iterable[Finding]:
    if not runbook.title and "title" not in runbook.unreadable:
        yield _finding(runbook, 1, "warning", "no-title", "no title; add 'title:' or a '# Heading'")
    if not runbook.owner and "owner" not in runbook.unreadable:
        yield _finding(
            runbook, 1, "warning", "no-owner", "no owner; add 'owner:' so escalations reach a team"
        )
    if not runbook.steps and "steps" not in runbook.unreadable:
        yield _finding(
            runbook,
            1,
            "note",
            "no-steps",
            "no steps: a page to read (a fenced block with attributes is a step)",
        )
    for fence in runbook.unrun_shell_blocks:
        yield _finding(
            runbook,
            fence.line,
            "note",
            "runme-would-run",
            f"a {fence.language} block without attributes is documentation to ops, but Runme "
            f"would run it; to make it a step, give it attributes: "
            f'```{fence.language} {{"name":"{fence.name}"}}',
        )
    for key in runbook.other_front_matter:
        if key not in OTHER_TOOLS_FRONT_KEYS:
            yield _finding(
                runbook,
                runbook.front_matter_line.get(key, 1),
                "warning",
                "unknown-front-matter",
                f"front matter key {key!r} means nothing to ops"
                f"{did_you_mean(key, FRONT_KEYS)}; it is kept and ignored",
            )
    for secret in runbook.secrets:
        if not ENV_NAME.fullmatch(secret):
            yield _finding(
                runbook,
                runbook.front_matter_line.get("secrets", 1),
                "error",
                "bad-secret",
                f"secret {secret!r} is not an environment variable name",
            )
    for key, names in (("secrets", runbook.secrets), ("env", runbook.env)):
        line = runbook.front_matter_line.get(key, 1)
        for name in names:
            if key == "env" and not ENV_NAME.fullmatch(name):
                yield _finding(
                    runbook,
                    line,
                    "error",
                    "bad-env",
                    f"env {name!r} is not an environment variable name",
                )
            elif is_ops_credential(name, named=credential_variables):
                yield _finding(
                    runbook,
                    line,
                    "error",
                    "ops-credential",
                    f"{key}: {name} is one of ops's own credentials; it never reaches a step",
                )


def _lint_params(runbook: Runbook) -> Iterable[Finding]:
    for param in runbook.params:
        if param.pattern is not None:
            try:
                compiled = re.compile(param.pattern)
            except re.error as exc:
                yield _finding(
                    runbook,
                    param.line,
                    "error",
                    "bad-pattern",
                    f"param {param.name}: pattern {param.pattern!r} is not a valid regex: {exc}",
                )
                continue
            if param.default is not None and not compiled.fullmatch(param.default):
                yield _finding(
                    runbook,
                    param.line,
                    "error",
                    "bad-default",
                    f"param {param.name}: default {param.default!r} does not match its "
                    f"pattern {param.pattern!r}",
                )
        if param.choices and param.default is not None and param.default not in param.choices:
            yield _finding(
                runbook,
                param.line,
                "error",
                "bad-default",
                f"param {param.name}: default {param.default!r} is not one of its choices "
                f"({', '.join(param.choices)})",
            )
        if param.must_be_given and not param.required and not param.secret:
            yield _finding(
                runbook,
                param.line,
                "note",
                "implicitly-required",
                f"param {param.name}: choices and no default make it required: a run asks "
                f"for it at a terminal, else wants {param.example}; say 'required: true' or "
                "give a default",
            )
        if param.secret and param.default is not None:
            yield _finding(
                runbook,
                param.line,
                "error",
                "secret-default",
                f"param {param.name}: a secret param cannot have a default; it comes from "
                "the environment",
            )


def _known_variables(runbook: Runbook) -> set[str]:
    return (
        {p.name for p in runbook.params}
        | set(runbook.secrets)
        | set(runbook.env)
        | set(WELL_KNOWN_ENV)
        | {key.removeprefix("params.") for key in runbook.unreadable if key.startswith("params.")}
    )


def _lint_step(runbook: Runbook, step: Step, known: set[str]) -> Iterable[Finding]:
    label = f"step {step.name!r}"
    for key, value in step.attributes.items():
        if key in RUNME_ATTRIBUTES:
            continue
        if key not in ATTRIBUTES:
            hint = did_you_mean(key, ATTRIBUTES)
            yield _finding(
                runbook,
                step.line,
                "error",
                "unknown-attribute",
                f"{label}: unknown attribute {key!r}{hint}",
            )
            continue
        try:
            check_attribute(key, value, step.kind)
        except ValueError as exc:
            yield _finding(runbook, step.line, "error", "bad-attribute", f"{label}: {key}: {exc}")
    target = step.attr("on_failure")
    if target is not None:
        if target == step.name:
            yield _finding(
                runbook,
                step.line,
                "error",
                "bad-on-failure",
                f"{label}: on_failure names the step itself",
            )
        elif (handler := runbook.step(target)) is None:
            hint = did_you_mean(target, [s.name for s in runbook.steps])
            yield _finding(
                runbook,
                step.line,
                "error",
                "bad-on-failure",
                f"{label}: on_failure names no step: {target!r}{hint}",
            )
        elif kind_for(handler) is None:
            yield _finding(
                runbook,
                step.line,
                "error",
                "bad-on-failure",
                f"{label}: on_failure names step {handler.name!r}, which ops cannot run",
            )
        elif DIAGNOSE in step.tags and DIAGNOSE not in handler.tags:
            yield _finding(
                runbook,
                step.line,
                "warning",
                "handler-not-diagnose",
                f"{label}: on_failure handler {handler.name!r} is not tagged {DIAGNOSE}, so a "
                f"--tag {DIAGNOSE} run (ops serve's unattended diagnose) skips it; tag it "
                f"{DIAGNOSE} if it only reads",
            )
    if step.kind in STEP_KINDS and "interpreter" in step.attributes:
        yield _finding(
            runbook,
            step.line,
            "warning",
            "interpreter-ignored",
            f"{label}: interpreter has no effect on a {step.kind} step (it runs with "
            f"{runbook.shell or 'sh' if step.kind == 'sh' else step.kind}); it is for "
            "blocks in other languages",
        )
    if kind_for(step) is None:
        typo = did_you_mean(step.kind, STEP_KINDS)
        if typo:
            yield _finding(
                runbook,
                step.line,
                "warning",
                "unknown-kind",
                f"{label}: ops does not run {step.language!r} blocks{typo}",
            )
        else:
            yield _finding(
                runbook,
                step.line,
                "note",
                "not-run",
                f"{label}: {not_runnable(step)}; until then it is documentation",
            )
    yield from _lint_background(runbook, step)
    prompt = (step.attr("promptEnv") or "").strip().lower()
    if prompt in ("true", "yes", "1", "auto", "always") and not exported_names(step):
        yield _finding(
            runbook,
            step.line,
            "warning",
            "prompt-env",
            f"{label}: promptEnv asks for the variables a step exports ('export NAME=value'), "
            "and this one exports none",
        )
    if not step.named:
        pass  # named after its first command, as Runme names it; style is not the file's
    elif _UPPER_SNAKE.fullmatch(step.name):
        yield _finding(
            runbook,
            step.line,
            "warning",
            "runme-export",
            f"{label}: UPPER_SNAKE names make Runme export the step's output as a variable; "
            "use kebab-case",
        )
    elif not _KEBAB.fullmatch(step.name):
        yield _finding(
            runbook,
            step.line,
            "warning",
            "name-style",
            f"{label}: name should be kebab-case (lowercase words joined by '-')",
        )
    yield from _lint_when(runbook, step, known)
    yield from _lint_code(runbook, step, known)


_NO_EFFECT_IN_BACKGROUND = ("expect", "capture", "retries", "timeout", "interactive", "on_failure")


def _lint_background(runbook: Runbook, step: Step) -> Iterable[Finding]:
    label = f"step {step.name!r}"
    if (step.attr("background") or "").strip().lower() not in ("true", "yes", "1"):
        return
    yield _finding(
        runbook,
        step.line,
        "note",
        "background",
        f"{label}: runs in the background: the run goes on at once, and stops it when it ends",
    )
    ignored = [key for key in _NO_EFFECT_IN_BACKGROUND if key in step.attributes]
    if ignored:
        yield _finding(
            runbook,
            step.line,
            "warning",
            "background-attribute",
            f"{label}: {', '.join(ignored)} has no effect on a background step (the run does "
            "not wait for it)",
        )


def _lint_when(runbook: Runbook, step: Step, known: set[str]) -> Iterable[Finding]:
    when = step.attr("when")
    if when is None:
        return
    try:
        names = variables_in(parse_expression(when))
    except ValueError:
        return  # reported as a bad attribute
    for name in sorted(names - known):
        yield _finding(
            runbook,
            step.line,
            "warning",
            "unknown-variable",
            f"step {step.name!r}: when reads {name!r}, which is not a param, secret or "
            "captured variable",
        )


def _lint_code(runbook: Runbook, step: Step, known: set[str]) -> Iterable[Finding]:
    label = f"step {step.name!r}"
    lines = step.code.splitlines()
    if step.kind in ("sh", "bash"):
        assigned = _assigned_names(step.code)
        confirm = (step.attr("confirm") or "").strip().lower() in ("true", "yes", "1")
        reported: set[str] = set()
        for offset, text in enumerate(lines, 1):
            line = step.line + offset
            if text.lstrip(" \t").startswith("$ "):
                yield _finding(
                    runbook,
                    line,
                    "note",
                    "runme-dollar",
                    f"{label}: the '$ ' prompt is dropped before the line runs (as Runme does)",
                )
            for pattern, what in DESTRUCTIVE:
                if not confirm and pattern.search(text) and what not in reported:
                    reported.add(what)
                    yield _finding(
                        runbook,
                        line,
                        "warning",
                        "destructive",
                        f'{label}: looks destructive ({what}) but has no "confirm":"true"',
                    )
            for name, has_default in _references(text):
                if name in known or name in assigned or has_default or name in reported:
                    continue
                reported.add(name)
                yield _finding(
                    runbook,
                    line,
                    "warning",
                    "unknown-variable",
                    f"{label}: ${name} is not a param, secret, captured variable or "
                    "well-known environment variable",
                )
    elif step.kind == "promql":
        params = {p.name: p for p in runbook.params}
        unknown: set[str] = set()
        checked: set[tuple[str, bool]] = set()
        quoted = _quoted_spans(step.code)
        for match in _VARIABLE.finditer(step.code):
            name = match.group(1) or match.group(3)
            line = step.line + step.code.count("\n", 0, match.start()) + 1
            param = params.get(name)
            if param is None:
                if name not in unknown:
                    unknown.add(name)
                    yield _finding(
                        runbook,
                        line,
                        "warning",
                        "unknown-variable",
                        f"{label}: ${name} is not a param; promql steps can only use params",
                    )
                continue
            if param.pattern is not None or param.choices:
                continue
            inside = any(start < match.start() < end for start, end in quoted)
            if (name, inside) in checked:
                continue
            checked.add((name, inside))
            if inside:
                yield _finding(
                    runbook,
                    line,
                    "warning",
                    "unchecked-param",
                    f"{label}: param {name} goes into a query without a pattern or "
                    "choices; alert labels are untrusted input",
                )
            else:
                yield _finding(
                    runbook,
                    line,
                    "error",
                    "unquoted-param",
                    f"{label}: param {name} is pasted into the query outside a string literal "
                    "without a pattern or choices, so a value like '0 or vector(1)' rewrites "
                    "the query; give it a pattern or choices",
                )


def _quoted_spans(query: str) -> list[tuple[int, int]]:
    """(start, end) of each PromQL string literal in ``query``: its quotes' positions."""
    spans: list[tuple[int, int]] = []
    quote, start, index = "", 0, 0
    while index < len(query):
        char = query[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                spans.append((start, index))
                quote = ""
        elif char in "\"'`":
            quote, start = char, index
        elif char == "#":  # a comment runs to the end of the line
            end = query.find("\n", index)
            index = len(query) if end < 0 else end
            continue
        index += 1
    if quote:
        spans.append((start, len(query)))
    return spans


def _references(text: str) -> list[tuple[str, bool]]:
    found = []
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(3)
        modifier = match.group(2) or ""
        found.append((name, modifier.startswith((":-", "-", ":=", "=", ":+", "+", ":?", "?"))))
    return found


def _assigned_names(code: str) -> set[str]:
    names: set[str] = set()
    for match in _ASSIGNED.finditer(code):
        if match.group(1):
            names.add(match.group(1))
        elif match.group(2):
            names.add(match.group(2))
        elif match.group(3):
            names.update(match.group(3).split())
    return names
