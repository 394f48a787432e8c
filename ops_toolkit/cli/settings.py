"""Where a command finds its SLOs, runbooks, Prometheus and runbook base URL: one order for
every command, written once here.

    the command line (a flag or PATHS)  >  its environment variable  >  ops.yaml  >  the default

Before, each command chose on its own: ``ops slo validate`` and ``ops slo rules`` read
slos/ whatever ops.yaml's ``slos:`` said (and then told the user to set it), ``ops runbook``
read runbooks/ whatever ``runbooks:`` said, ``ops slo rules`` wrote relative runbook links
though ``runbook_base_url:`` was set. Each value carries where it came from, so that a
message about it points at what to change.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ops_toolkit.errors import ConfigError, RunbookError

if TYPE_CHECKING:
    from ops_toolkit.config import OpsConfig
    from ops_toolkit.metrics.source import SourceSettings

PROMETHEUS_ENV = "OPS_PROMETHEUS_URL"
RUNBOOKS_DIR_ENV = "OPS_RUNBOOKS_DIR"
RUNBOOK_BASE_URL_ENV = "OPS_RUNBOOK_BASE_URL"


@dataclass(frozen=True)
class Chosen:
    """A setting's value and where it came from, as a message names it: ``--dir``,
    ``OPS_RUNBOOKS_DIR``, ``runbooks: in ops.yaml``, or ``the default``."""

    value: str
    origin: str


def _from_command_line(param: str) -> bool:
    """Whether click took ``param`` from the command line rather than its ``envvar``."""
    import click
    from click.core import ParameterSource

    context = click.get_current_context(silent=True)
    if context is None:
        return True
    return context.get_parameter_source(param) is not ParameterSource.ENVIRONMENT


def _choose(
    given: str | None, param: str, flag: str, env: str, config: OpsConfig | None, key: str
) -> Chosen | None:
    """``given`` (a flag's value, or its ``envvar``'s when click filled it in), else ``$env``,
    else ops.yaml's ``key`` when the file wrote it; None when none says."""
    if given:
        return Chosen(given, flag if _from_command_line(param) else env)
    if os.environ.get(env):
        return Chosen(os.environ[env], env)
    if config is not None and key in config.written:
        return Chosen(str(getattr(config, key)), f"{key}: in {config.source}")
    return None


def slo_paths(given: Sequence[str], config: OpsConfig) -> tuple[str, ...]:
    """The SLO files and folders of a command: PATHS, else ops.yaml's ``slos:``, else slos/.
    One that does not exist is an error naming where it was asked for."""
    paths = tuple(given) or config.slos
    for path in paths:
        if os.path.exists(path):
            continue
        if not given and "slos" in config.written:
            raise ConfigError(f"{path}: no such file or directory (slos: in {config.source})")
        raise ConfigError(
            f"{path}: no such file or directory; give SLO files or directories, or set "
            "slos: in ops.yaml"
        )
    return paths


def runbooks_folder(
    given: str | None, config: OpsConfig | None, param: str = "directory", flag: str = "--dir"
) -> Chosen:
    """The folder runbooks are looked up in by name: ``--dir``, else ``OPS_RUNBOOKS_DIR``, else
    ops.yaml's ``runbooks:``, else runbooks/. ``config`` None: there is no ops.yaml (shell
    completion then reads none, as it must not import PyYAML)."""
    chosen = _choose(given, param, flag, RUNBOOKS_DIR_ENV, config, "runbooks")
    return chosen or Chosen(config.runbooks if config else "runbooks", "the default")


def existing_runbooks_folder(given: str | None, config: OpsConfig, flag: str = "--dir") -> str:
    """``runbooks_folder``, which must exist: the error names where it was chosen."""
    chosen = runbooks_folder(given, config, flag=flag)
    if os.path.isdir(chosen.value):
        return chosen.value
    if chosen.origin == "the default":
        raise RunbookError(
            f"{chosen.value}: no such folder; give --dir, set OPS_RUNBOOKS_DIR or runbooks: "
            "in ops.yaml"
        )
    raise RunbookError(f"{chosen.value}: no such folder (from {chosen.origin})")


def prometheus_settings(
    given: str | None, config: OpsConfig | None, param: str = "prometheus_url"
) -> SourceSettings | None:
    """The metrics source: ``--prometheus``, else ``OPS_PROMETHEUS_URL``, else ops.yaml's
    ``prometheus:``; None when none says. A URL given takes ops.yaml's headers and
    credentials only when it names the same server. The settings carry the URL's origin,
    which an unreachable server's message names."""
    from ops_toolkit.metrics.source import SourceSettings

    configured = config.prometheus_source if config is not None else None
    url = given or os.environ.get(PROMETHEUS_ENV) or None
    if url:
        origin = "--prometheus" if given and _from_command_line(param) else PROMETHEUS_ENV
        settings = configured.for_url(url) if configured is not None else SourceSettings(url)
        return replace(settings, origin=origin)
    if configured is None or config is None:
        return None
    return replace(configured, origin=f"prometheus: in {config.source}")


def runbook_base_url(
    given: str | None, config: OpsConfig, param: str = "runbook_base_url"
) -> str | None:
    """The prefix of runbook links: ``--runbook-base-url``, else ``OPS_RUNBOOK_BASE_URL``,
    else ops.yaml's ``runbook_base_url:``; None when none says (links stay relative)."""
    chosen = _choose(
        given, param, "--runbook-base-url", RUNBOOK_BASE_URL_ENV, config, "runbook_base_url"
    )
    if chosen is None:
        return None
    if not chosen.value.startswith(("http://", "https://")):
        raise ConfigError(f"{chosen.origin}: expected an http(s) URL, got {chosen.value!r}")
    return chosen.value


def resolved(
    config: OpsConfig,
    *,
    prometheus: str | None = None,
    runbooks: str | None = None,
    base_url: str | None = None,
) -> OpsConfig:
    """``config`` with each setting chosen in the one order: the flags given here, else the
    environment, else ops.yaml. For commands that pass ``config`` on (``ops serve``,
    ``ops check``, ``ops slo report --once``, ``ops rollout``), so that they read what
    ``ops slo`` and ``ops runbook`` read in the same shell."""
    source = prometheus_settings(prometheus, config)
    return replace(
        config,
        runbooks=runbooks_folder(runbooks, config).value,
        runbook_base_url=runbook_base_url(base_url, config),
        prometheus=source.url if source else None,
        prometheus_source=source,
    )
