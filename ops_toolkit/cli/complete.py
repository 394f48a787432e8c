"""Dynamic shell completion: runbook names, step names, tags, SLO keys, run ids, outbox ids.

click calls these ``shell_complete`` callbacks while the shell asks (``_OPS_COMPLETE``, set
by the script ``ops completion bash|zsh|fish`` prints). A shell waits on them at every Tab,
so they read only local files (never Prometheus), import what they need inside, and never
fail: a file that does not parse gives what can be read of it, or nothing; a missing
folder gives nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

import click
from click.shell_completion import CompletionItem


def _matching(items: Iterable[tuple[str, str | None]], incomplete: str) -> list[CompletionItem]:
    seen: set[str] = set()
    found = []
    for value, help_text in items:
        if value.startswith(incomplete) and value not in seen:
            seen.add(value)
            found.append(CompletionItem(value, help=help_text))
    return found


def _param(ctx: click.Context, name: str) -> Any:
    """A value given earlier on the command line (click parsed it resiliently), or None.

    Completing an option's value (``run search-errors --step <Tab>``), click's parse stops
    at that option, which has no value yet, before it assigns the positional arguments; they
    are left in ``ctx.args``, so parse those again to find the runbook named."""
    value = ctx.params.get(name)
    if value is None and ctx.args:
        with ctx.command.make_context(
            ctx.info_name, list(ctx.args), parent=ctx.parent, resilient_parsing=True
        ) as again:
            value = again.params.get(name)
    return value


def _runbooks_dir(ctx: click.Context) -> str:
    from ops_toolkit.cli.options import runbooks_dir
    from ops_toolkit.cli.settings import runbooks_folder
    from ops_toolkit.errors import OpsError

    given = _param(ctx, "directory")
    try:  # the folder show and run read: ops.yaml's runbooks: too
        return runbooks_dir(given, _param(ctx, "config_path"))
    except OpsError:  # a broken ops.yaml is for the command to report, not the Tab key
        return runbooks_folder(given, None).value


def runbook_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Names in --dir (what ``show``/``run`` look up), as the file names say: no parsing.
    A path being typed (``./``, ``/``, ``x.md``) is completed by the shell as a file."""
    directory = _runbooks_dir(ctx)
    names: list[tuple[str, str | None]] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".md") and name.lower() not in ("readme.md", "index.md", "_index.md"):
                relative = os.path.relpath(os.path.join(root, name), directory)
                names.append((relative[:-3].replace(os.sep, "/"), None))
    found = _matching(names, incomplete)
    if found or not incomplete:
        return found
    return [CompletionItem(incomplete, type="file")]


def _runbook_steps(ctx: click.Context) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, kind, tags) of each step of the runbook named earlier on the line."""
    reference = _param(ctx, "reference")
    if not reference:
        return []
    path = reference
    if not os.path.isfile(path):
        path = os.path.join(
            _runbooks_dir(ctx), reference if reference.endswith(".md") else f"{reference}.md"
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    from ops_toolkit.errors import OpsError
    from ops_toolkit.runbook.parse import parse_runbook_bytes

    try:
        runbook = parse_runbook_bytes(data, path)
    except OpsError:
        return list(_steps_as_written(data.decode("utf-8", "replace")))
    return [(step.name, step.kind, step.tags) for step in runbook.steps]


_FENCE = re.compile(r"^\s*(?:```|~~~)\s*([\w-]*)\s*(\{.*\})\s*$")


def _steps_as_written(text: str) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """Steps of a runbook that does not parse (a bad JSON fence elsewhere, a duplicate name):
    each fence's own name and tags as written, so the good steps still complete."""
    import json

    for line in text.splitlines():
        fence = _FENCE.match(line)
        if not fence:
            continue
        try:
            attributes = json.loads(fence.group(2))
        except ValueError:
            continue  # this fence is what broke the file: nothing of it to offer
        name = (
            attributes.get("name") or attributes.get("id") if isinstance(attributes, dict) else None
        )
        if isinstance(name, str) and name:
            tags = str(attributes.get("tag", "")).split(",")
            yield name, fence.group(1) or "sh", tuple(t.strip() for t in tags if t.strip())


def step_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``--step``/``--from``: the steps of the runbook given before them."""
    return _matching(((name, kind) for name, kind, _ in _runbook_steps(ctx)), incomplete)


def step_tags(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``--tag``: the tags the runbook's steps have, each with how many steps carry it."""
    counts: dict[str, int] = {}
    for _, _, tags in _runbook_steps(ctx):
        for tag in filter(None, tags):
            counts[tag] = counts.get(tag, 0) + 1
    return _matching(
        ((tag, f"{n} step{'s' if n > 1 else ''}") for tag, n in sorted(counts.items())),
        incomplete,
    )


def slo_keys(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``service/slo`` of every SLO in the files given (default: ops.yaml's, else slos/);
    a file that does not parse is left out, the others complete."""
    from ops_toolkit.errors import ConfigError, OpsError

    try:
        paths = _param(ctx, "paths")
        if not paths:
            from ops_toolkit.config import load_config

            paths = load_config(_param(ctx, "config_path")).slos
        from ops_toolkit.slo.spec import load_slo_files, slo_files

        existing = [p for p in paths if os.path.exists(p)]
        errors: list[ConfigError] = []
        files = load_slo_files(slo_files(existing), errors)
    except OpsError:
        return []
    keys = ((slo.key, f"{slo.objective:g}%") for file in files for slo in file.slos)
    return _matching(sorted(keys), incomplete)


def run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Run ids in the state folder (--state-dir, OPS_STATE_DIR, the default), newest first:
    the file names, no state is read."""
    directory = _param(ctx, "state_dir")
    if not directory:
        from ops_toolkit.runbook.state import default_state_dir

        directory = default_state_dir()
    try:
        names = os.listdir(os.path.join(directory, "runs"))
    except OSError:
        return []
    ids = sorted((n[:-5] for n in names if n.endswith(".json")), reverse=True)
    return _matching(((run_id, None) for run_id in ids), incomplete)


def dead_outbox_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``outbox retry``: the ids of dead entries (the only ones it re-queues), with where
    each was going; read from the SQLite store without opening it for writing."""
    import sqlite3
    from pathlib import Path

    state = _param(ctx, "state")
    if not state:
        from ops_toolkit.config import load_config
        from ops_toolkit.errors import OpsError

        try:
            state = load_config(_param(ctx, "config_path")).serve.state
        except OpsError:
            return []
    if "://" in state or not os.path.isfile(state):  # a PostgreSQL URL, or no store yet
        return []
    table = "inbox" if _param(ctx, "inbox") else "outbox"
    query = (
        "SELECT id, last_error FROM inbox WHERE processed = 2 ORDER BY id DESC"
        if table == "inbox"
        else "SELECT id, channel FROM outbox WHERE status = 'dead' ORDER BY id DESC"
    )
    try:
        with sqlite3.connect(
            Path(state).absolute().as_uri() + "?mode=ro", uri=True, timeout=0.5
        ) as db:
            rows = db.execute(query).fetchall()
    except sqlite3.Error:
        return []
    return _matching(((str(i), str(about or "")[:60]) for i, about in rows), incomplete)


def plan_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Rollout plans in --dir: the file names."""
    directory = str(_param(ctx, "directory") or "rollouts")
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    plans = (
        (n.rsplit(".", 1)[0], None)
        for n in names
        if n.endswith((".yaml", ".yml")) and ".history." not in n
    )
    return _matching(plans, incomplete)
