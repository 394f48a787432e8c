"""Finding runbook files: by path, by directory, or by name with did-you-mean."""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Iterable, Sequence

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.lint import Finding, lint_runbooks
from ops_toolkit.runbook.model import Runbook
from ops_toolkit.runbook.parse import read_runbook, read_runbook_problems
from ops_toolkit.suggest import close_matches

_SKIPPED = {"readme.md", "index.md", "_index.md"}  # _index.md: a Hugo section page


def runbook_files(paths: Iterable[str]) -> list[str]:
    """Markdown files named by ``paths`` (files as given, directories searched, sorted)."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [
                    os.path.join(root, f)
                    for f in sorted(files)
                    if f.endswith(".md") and f.lower() not in _SKIPPED
                ]
        elif os.path.exists(path):
            found.append(path)
        else:
            raise RunbookError.at(
                path, None, "no such file or directory; give runbook files or directories"
            )
    return found


def resolve_runbook(reference: str, directory: str) -> str:
    """The path of ``reference``: a path as is, else ``<directory>/<name>.md``, else the one
    runbook in ``directory`` for the alert of that name (an on-call engineer has the alert's
    name in hand, not the file's)."""
    if os.path.isfile(reference):
        return reference
    candidate = os.path.join(
        directory, reference if reference.endswith(".md") else f"{reference}.md"
    )
    if os.path.isfile(candidate):
        return candidate
    if os.sep in reference or (os.altsep and os.altsep in reference):
        # a path, not a name: looking it up in --dir would only confuse
        raise RunbookError(f"{reference}: file not found")
    files = runbook_files([directory]) if os.path.isdir(directory) else []
    runbooks, _ = read_runbooks(files)  # a broken file is lint's to report, not this lookup's
    for_alert = _runbooks_for(reference, runbooks)
    if len(for_alert) == 1:
        return for_alert[0].source
    if for_alert:
        claims = ", ".join(_label(r, directory) for r in for_alert)
        raise RunbookError(
            f"alert {reference!r} has several runbooks in {directory}/: {claims}; give one by name"
        )
    names = [os.path.basename(p)[:-3] for p in files]
    close = close_matches(reference.removesuffix(".md"), names)
    alerts = alert_index(runbooks)
    close += [
        f"{alert} (alert of {_label(alerts[alert], directory)})"
        for alert in _close_alerts(reference, alerts)
    ]
    hint = (
        f"; did you mean: {', '.join(close)}?"
        if close
        else (f"; known: {', '.join(names)}" if names else f"; {directory}/ has no runbooks")
    )
    raise RunbookError(f"no runbook {reference!r} (looked in {directory}/){hint}")


def _close_alerts(reference: str, alerts: Iterable[str]) -> list[str]:
    """Alert names like ``reference``, case aside; closer than names of files must be, as
    alert names share long prefixes (``SearchAvailability...``, ``SearchAnswer...``)."""
    by_lower = {alert.lower(): alert for alert in alerts}
    close = difflib.get_close_matches(reference.lower(), list(by_lower), n=3, cutoff=0.7)
    return [by_lower[alert] for alert in close]


def _runbooks_for(alert: str, runbooks: Sequence[Runbook]) -> list[Runbook]:
    """The runbooks claiming ``alert`` in ``alerts:``, else those named after it (the rule
    of ``alert_index``, but all of them: two claims are for the person to choose between)."""
    claims = [r for r in runbooks if alert in r.alerts]
    return claims or [r for r in runbooks if alert in r.alert_names]


def _label(runbook: Runbook, directory: str) -> str:
    """How to name ``runbook`` to ``show``/``run``: its path under ``directory``, no .md."""
    return os.path.relpath(runbook.source, directory).removesuffix(".md")


def alert_index(runbooks: Iterable[Runbook]) -> dict[str, Runbook]:
    """Alert name -> its runbook: an ``alerts:`` claim first, else the file named after it."""
    runbooks = list(runbooks)
    index: dict[str, Runbook] = {}
    for runbook in runbooks:
        for alert in runbook.alerts:
            index.setdefault(alert, runbook)
    for runbook in runbooks:
        for alert in runbook.alert_names:
            index.setdefault(alert, runbook)
    return index


def load_runbook(reference: str, directory: str) -> Runbook:
    return read_runbook(resolve_runbook(reference, directory))


def load_runbooks(paths: Iterable[str]) -> list[Runbook]:
    return [read_runbook(path) for path in runbook_files(paths)]


def read_runbooks(paths: Iterable[str]) -> tuple[list[Runbook], list[RunbookError]]:
    """Every runbook under ``paths`` that parses, and the error of each one that does not.

    One bad file in a directory of a hundred must not hide the other ninety-nine.
    """
    runbooks: list[Runbook] = []
    errors: list[RunbookError] = []
    for path in runbook_files(paths):
        try:
            runbooks.append(read_runbook(path))
        except RunbookError as error:
            errors.append(error)
    return runbooks, errors


def lint_paths(paths: Iterable[str], credential_variables: Collection[str] = ()) -> list[Finding]:
    """Lint every runbook under ``paths``: each error the parser finds is an error finding
    (all of a file's, where it can go on past them), and the rest of the file is linted.

    ``credential_variables``: the variables ops's configuration reads credentials from.
    """
    runbooks: list[Runbook] = []
    findings: list[Finding] = []
    for path in runbook_files(paths):
        runbook, errors = read_runbook_problems(path)
        if runbook is not None:
            runbooks.append(runbook)
        findings += [
            Finding(
                error.source or "", error.line or 1, "error", "parse", error.detail or str(error)
            )
            for error in errors
        ]
    findings += lint_runbooks(runbooks, credential_variables)
    return sorted(findings, key=lambda f: (f.source, f.line, f.message))
