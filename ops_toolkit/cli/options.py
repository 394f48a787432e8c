"""Options shared by several commands, as decorators, and the JSON printer they feed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """``--json``: one machine-readable document on stdout instead of the terminal view."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table."
    )(func)


def runbooks_dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "directory",
        default="runbooks",
        envvar="OPS_RUNBOOKS_DIR",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Where runbooks are looked up by name (env OPS_RUNBOOKS_DIR).",
    )(func)


def print_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def prometheus_option(func: F) -> F:
    return click.option(
        "--prometheus",
        "prometheus_url",
        envvar="OPS_PROMETHEUS_URL",
        metavar="URL",
        help="Prometheus base URL (env OPS_PROMETHEUS_URL).",
    )(func)


def state_dir_option(func: F) -> F:
    return click.option(
        "--state-dir",
        envvar="OPS_STATE_DIR",
        type=click.Path(file_okay=False),
        help="Run state and audit trail (env OPS_STATE_DIR; default ~/.local/state/ops).",
    )(func)
