"""How to reach one Prometheus-compatible API: its URL, extra headers, and credentials.

Multi-tenant stores (Mimir, Cortex, Thanos behind a tenancy proxy) pick the tenant from a
header (``X-Scope-OrgID``); hosted and proxied ones want basic auth or a bearer token. The
settings hold only *where* a secret is (an environment variable's name or a file's path),
never the secret: ops.yaml stays safe to commit and to print. The secret is read once, when
the source is opened, and lives only in that source's HTTP session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from ops_toolkit.errors import ConfigError

# RFC 9110 field names: a token.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers that carry credentials: they belong in basic_auth / bearer_token_*, whose values
# stay out of the file and are masked in all ops prints.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


@dataclass(frozen=True)
class SourceSettings:
    """One metrics source as ops.yaml's ``prometheus:`` describes it. ``place`` is where it
    was written (``ops.yaml: prometheus``), for messages."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None
    place: str | None = None
    max_answer: int | None = None  # bytes an answer may hold; None: the client's default

    def secret_env_names(self) -> tuple[str, ...]:
        """The environment variables holding this source's secrets: never given to a step."""
        return tuple(n for n in (self.password_env, self.bearer_token_env) if n)

    def for_url(self, url: str) -> SourceSettings:
        """These settings aimed at ``url`` (``--prometheus``). Headers and credentials go only
        to the server they were written for (same scheme, host and port), as curl and
        browsers keep them on a redirect: never to another server."""
        if _origin(url) == _origin(self.url):
            return replace(self, url=url)
        return SourceSettings(url, max_answer=self.max_answer)  # a bound, not a secret


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", url, None


def resolve_headers(
    settings: SourceSettings,
    environ: Mapping[str, str],
    read_file: Callable[[str], str] | None = None,
) -> dict[str, str]:
    """The headers to send: the configured ones plus ``Authorization`` from the secret.

    ``ConfigError`` naming the setting when a variable is unset or empty, or a file cannot
    be read or is empty.
    """
    import base64

    read = read_file or _read_secret_file
    headers = dict(settings.headers)
    place = settings.place or "prometheus"
    if settings.username is not None:
        password = _secret(
            place, "basic_auth", settings.password_env, settings.password_file, environ, read
        )
        pair = f"{settings.username}:{password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif settings.bearer_token_env or settings.bearer_token_file:
        token = _secret(
            place, "", settings.bearer_token_env, settings.bearer_token_file, environ, read
        )
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in token):
            # It goes into a header as is: a line break would add headers of its own, and
            # the HTTP library's refusal quotes the whole value (the token) back.
            where = settings.bearer_token_env or settings.bearer_token_file
            raise ConfigError(
                f"{place}.{_key('', 'env' if settings.bearer_token_env else 'file')}: the "
                f"token in {where} holds a space, line break or control character"
            )
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _secret(
    place: str,
    parent: str,
    env: str | None,
    path: str | None,
    environ: Mapping[str, str],
    read: Callable[[str], str],
) -> str:
    prefix = f"{place}.{parent}." if parent else f"{place}."
    if env:
        value = environ.get(env, "")
        if not value:
            raise ConfigError(f"{prefix}{_key(parent, 'env')}: {env} is not set")
        return value
    assert path is not None
    try:
        value = read(path).strip()
    except OSError as exc:
        raise ConfigError(
            f"{prefix}{_key(parent, 'file')}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    if not value:
        raise ConfigError(f"{prefix}{_key(parent, 'file')}: {path} is empty")
    return value


def _key(parent: str, kind: str) -> str:
    return f"password_{kind}" if parent else f"bearer_token_{kind}"


def _read_secret_file(path: str) -> str:
    with open(os.path.expanduser(path), encoding="utf-8") as handle:
        return handle.read()


def known_secrets(settings: SourceSettings | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The secrets ``settings`` point at, as far as they can be read now, to be masked in all
    that ops prints; an unset variable or unreadable file is reported when a query needs it."""
    if settings is None:
        return {}
    try:
        return secret_values(resolve_headers(settings, environ))
    except ConfigError:
        return {}


def secret_values(headers: Mapping[str, str]) -> dict[str, str]:
    """The secrets inside resolved headers, to be masked: the password or token and the
    whole ``Authorization`` value (base64 of ``user:password`` included)."""
    import base64
    import binascii

    value = headers.get("Authorization")
    if not value:
        return {}
    found = {"prometheus (authorization)": value}
    scheme, _, credential = value.partition(" ")
    found["prometheus (credential)"] = credential
    if scheme == "Basic":
        try:
            _, _, password = base64.b64decode(credential).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            password = ""
        if password:
            found["prometheus (password)"] = password
    return found
