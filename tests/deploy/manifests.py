"""Reading what deploy/ ships, and what ops itself reads and serves, for the deploy tests.

The manifests are "rendered" without kustomize: the files kustomization.yaml lists are
parsed, and its ``namespace`` is the one the objects land in. What ops reads (environment
variables) and how a command line resolves come from the code, never from a hand-kept list.
"""

from __future__ import annotations

import ast
import configparser
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from ops_toolkit.cli import main
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
ALERTMANAGER_HA = DEPLOY / "alertmanager" / "alertmanager-ha.yml"
SYSTEMD_UNIT = DEPLOY / "systemd" / "ops-serve.service"
SYSTEMD_ENV = DEPLOY / "systemd" / "ops-serve.env.example"


def kustomization() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    return document


@dataclass(frozen=True)
class Manifest:
    source: str  # file name and document index, for messages
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])


def manifests() -> list[Manifest]:
    """Every document of every file the kustomization lists, in its order."""
    found = []
    for resource in kustomization()["resources"]:
        text = (KUBERNETES / resource).read_text(encoding="utf-8")
        for index, document in enumerate(yaml.safe_load_all(text)):
            if document is not None:
                found.append(Manifest(f"{resource}[{index}]", document))
    return found


def of_kind(kind: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind == kind]


def pod_spec(manifest: Manifest) -> dict[str, Any]:
    spec = manifest.body["spec"]
    if manifest.kind == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def pod_labels(manifest: Manifest) -> dict[str, str]:
    spec = manifest.body["spec"]
    if manifest.kind == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    labels: dict[str, str] = spec["template"].get("metadata", {}).get("labels", {})
    return labels


@dataclass(frozen=True)
class Container:
    owner: Manifest
    body: dict[str, Any]

    @property
    def place(self) -> str:
        return (
            f"{self.owner.source} {self.owner.kind}/{self.owner.name} container {self.body['name']}"
        )

    @property
    def command_line(self) -> list[str]:
        return [*self.body.get("command", []), *self.body.get("args", [])]

    @property
    def env_names(self) -> list[str]:
        return [item["name"] for item in self.body.get("env", [])]

    def mount_for(self, path: str) -> dict[str, Any] | None:
        """The volume mount that holds ``path`` (the deepest one), if any."""
        mounts = [
            m
            for m in self.body.get("volumeMounts", [])
            if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        return max(mounts, key=lambda m: len(m["mountPath"]), default=None)

    def volume(self, name: str) -> dict[str, Any]:
        (volume,) = [v for v in pod_spec(self.owner).get("volumes", []) if v["name"] == name]
        return volume


def containers() -> list[Container]:
    return [
        Container(m, c)
        for m in manifests()
        if m.kind in ("Deployment", "CronJob")
        for c in pod_spec(m)["containers"]
    ]


def systemd_unit() -> configparser.RawConfigParser:
    """The unit as INI; repeated keys (``Environment=``) keep their last value, enough here."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(SYSTEMD_UNIT.read_text(encoding="utf-8"))
    return parser


def systemd_command_line() -> list[str]:
    return shlex.split(systemd_unit()["Service"]["ExecStart"])


def env_file_names(path: Path) -> list[str]:
    """The NAME of each ``NAME=value`` line, commented-out examples included."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.lstrip("# ").strip()
        name, equals, _ = text.partition("=")
        if equals and name.isidentifier() and name.isupper():
            names.append(name)
    return names


def environ_reads() -> set[str]:
    """Names ops reads from an environment mapping anywhere in ``ops_toolkit``:
    ``os.environ.get("X")``, ``environ["X"]``, ``self.environ.get("X")``, ``os.getenv("X")``."""
    names: set[str] = set()
    for path in (ROOT / "ops_toolkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                reads = (node.func.attr == "get" and _is_environ(node.func.value)) or (
                    node.func.attr == "getenv"
                )
                if reads and node.args and _text(node.args[0]):
                    names.add(_text(node.args[0]))
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and _is_environ(node.value)
                and _text(node.slice)
            ):
                names.add(_text(node.slice))
    return names


def click_envvars() -> set[str]:
    """Every ``envvar=`` a click option of ``ops_toolkit`` declares."""
    names: set[str] = set()
    for path in (ROOT / "ops_toolkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "envvar" and _text(node.value):
                names.add(_text(node.value))
    return names


def _is_environ(node: ast.expr) -> bool:
    return ast.unparse(node).rsplit(".", 1)[-1] == "environ"


def _text(node: ast.expr) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def resolve(command_line: list[str]) -> tuple[click.Command, click.Context]:
    """The ``ops`` subcommand a command line runs, and its arguments parsed by click
    (unknown options, missing values and bad types raise click's usage errors)."""
    program, *words = command_line
    assert Path(program).name == "ops", f"{command_line}: not an ops command line"
    context = click.Context(main, info_name="ops")
    command: click.Command = main
    while isinstance(command, click.Group):
        name, *words = words
        found = command.get_command(context, name)
        assert found is not None, f"{command_line}: ops has no command {name!r}"
        command = found
        context = click.Context(command, info_name=name, parent=context)
    assert context.parent is not None
    parsed = command.make_context(str(context.info_name), list(words), parent=context.parent)
    return command, parsed


def command_envvars(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param.envvar, str):
            names.add(param.envvar)
        elif param.envvar:
            names.update(param.envvar)
    return names


def secret_refs() -> Iterator[tuple[Container, str, dict[str, Any]]]:
    """(container, env name, secretKeyRef) for every secret a container reads."""
    for container in containers():
        for item in container.body.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                yield container, item["name"], ref


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]
