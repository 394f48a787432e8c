"""What environment a step gets: the two models, and ops's own credentials kept from steps.

- At the CLI (a person's shell) a step gets the person's environment minus ops's own
  credentials: ``SLACK_*``, ``OPS_WEBHOOK_TOKEN``, ``OPS_KEY``, ``OPS_API_KEY`` and any
  ``OPS_*_TOKEN``/``_SECRET``/``_PASSWORD``/``_KEY`` (so ``OPS_*_API_KEY`` too),
  ``OPS_DATABASE_URL``/``OPS_*_DSN``, any ``OPS_*`` variable holding a URL with a password,
  and every variable the configuration names as holding a credential (``routing_key_env`` of
  an on-call webhook: ``named`` below). The person can read them anyway; a runbook step has
  no business with them.
- In ``ops serve`` (unattended, triggered by an alert) a step gets only an allow-list:
  ``PATH``, ``HOME``, ``LANG``, ``LC_*``, ``TZ``, ``KUBECONFIG``, the names the runbook lists
  in ``env:`` and ``secrets:`` (never one of ops's credentials), and its params. The server's
  environment holds the Slack token and the webhook token; an alert must not be able to make
  a step print them.

In both, the values of ops's credentials are masked like runbook secrets.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from ops_toolkit.runbook.model import Runbook

CREDENTIAL_PATTERNS = (
    "SLACK_*",
    "OPS_WEBHOOK_TOKEN",
    "OPS_*_TOKEN",
    "OPS_*_SECRET",
    "OPS_*_PASSWORD",
    "OPS_KEY",
    "OPS_*_KEY",
    "OPS_DATABASE_URL",
    "OPS_*_DATABASE_URL",
    "OPS_*_DSN",
)
NOT_SECRET = frozenset({"SLACK_API_URL"})  # withheld from steps, but nothing to mask
_SECRET_NAME = re.compile(r"_(?:TOKEN|SECRET|PASSWORD|KEY|URL|DSN)$")  # SLACK_CHANNEL is not
UNATTENDED_ALLOWED = ("PATH", "HOME", "LANG", "LC_*", "TZ", "KUBECONFIG")
MAX_VARIABLE_BYTES = 128 * 1024  # Linux's MAX_ARG_STRLEN: one NAME=value string with its NUL
_URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]*@")


def is_ops_credential(name: str, value: str = "", named: Collection[str] = ()) -> bool:
    """Whether ``name`` (holding ``value``) is one of ops's own credentials.

    ``named``: the variables ops's configuration reads credentials from (``routing_key_env``);
    whatever they are called, they are ops's and never a step's.
    """
    if name in named or any(fnmatch.fnmatchcase(name, pattern) for pattern in CREDENTIAL_PATTERNS):
        return True
    return name.startswith("OPS_") and bool(_URL_WITH_PASSWORD.match(value))


def ops_credentials(environ: Mapping[str, str], named: Collection[str] = ()) -> dict[str, str]:
    """ops's own credentials found in ``environ``: their values are masked in all output."""
    found = {}
    for name, value in environ.items():
        secret = name in named or name.startswith("OPS_") or bool(_SECRET_NAME.search(name))
        if is_ops_credential(name, value, named) and secret and name not in NOT_SECRET and value:
            found[name] = value
            password = _url_password(value)
            if password:
                found[f"{name} (password)"] = password
    return found


def url_credentials(name: str, url: str | None) -> dict[str, str]:
    """The password in a URL given to ops some other way (``--prometheus``, ops.yaml)."""
    password = _url_password(url or "")
    return {f"{name} (password)": password} if password else {}


def person_environment(environ: Mapping[str, str], named: Collection[str] = ()) -> dict[str, str]:
    """The CLI model: the person's environment minus ops's own credentials (``named``: the
    variables ops's configuration reads its secrets from, whatever they are called)."""
    return {k: v for k, v in environ.items() if not is_ops_credential(k, v, named)}


def unattended_environment(
    environ: Mapping[str, str], runbook: Runbook, named: Collection[str] = ()
) -> dict[str, str]:
    """The ``ops serve`` model: only the allow-list and what the runbook names."""
    listed = (*runbook.env, *runbook.secrets)
    return {
        k: v
        for k, v in environ.items()
        if (any(fnmatch.fnmatchcase(k, p) for p in UNATTENDED_ALLOWED) or k in listed)
        and not is_ops_credential(k, v, named)
    }


def os_refuses(name: str, value: str) -> str | None:
    """Why the OS cannot pass ``name=value`` in a process's environment, or None if it can."""
    if "\x00" in value:
        return "contains a NUL byte"
    try:
        encoded = os.fsencode(value)
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    if len(name) + len(encoded) + 2 > MAX_VARIABLE_BYTES:
        return f"is longer than an environment variable can hold ({MAX_VARIABLE_BYTES // 1024} KiB)"
    return None


def _url_password(value: str) -> str | None:
    if not _URL_WITH_PASSWORD.match(value):
        return None
    try:
        return urlsplit(value).password or None
    except ValueError:
        return None
