"""The Dockerfile that builds the image ``deploy/kubernetes/`` runs.

Docker has no daemon here, so the image itself is not built; what can be checked without
one is: every file the Dockerfile copies is in the build context (and not ignored), the
package builds from those files alone (``pip wheel``, as ``pip install .`` in the image
does), the image runs as the user and from the folder the manifests expect, and the
manifests name the tag the README builds.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT
from tests.deploy.manifests import containers, kustomization, pod_spec, readme_section

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def copied() -> list[str]:
    return [args.split()[0] for word, args in instructions() if word == "COPY"]


def ignored(name: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(name.rstrip("/"), p) for p in patterns)


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    assert copied(), "the Dockerfile copies nothing"
    for source in copied():
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_the_package_builds_from_the_files_the_image_gets(tmp_path: Path) -> None:
    """What the first stage copies before 'pip install .' is all the build needs."""
    steps = instructions()
    install = steps.index(("RUN", "pip install . && rm -rf /build"))
    context = tmp_path / "build"
    context.mkdir()
    for word, args in steps[:install]:
        if word == "COPY":
            source = args.split()[0]
            if (ROOT / source).is_dir():
                shutil.copytree(
                    ROOT / source,
                    context / source,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            else:
                shutil.copy(ROOT / source, context / source)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("ops_toolkit-*.whl")
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "ops_toolkit").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules <= set(zipfile.ZipFile(wheel).namelist())


def test_the_image_runs_ops_as_the_manifests_user_from_their_working_directory() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    (user,) = [args for word, args in steps if word == "USER"]
    workdir = [args for word, args in steps if word == "WORKDIR"][-1]
    (entrypoint,) = [args for word, args in steps if word == "ENTRYPOINT"]
    assert entrypoint == '["ops"]'
    for container in containers():
        security = pod_spec(container.owner)["securityContext"]
        assert user == f"{security['runAsUser']}:{security['runAsGroup']}", container.place
        assert user.split(":")[0] != "0"
        assert container.body["workingDir"] == workdir, container.place
        assert container.body["command"] == ["ops"], container.place


def test_the_manifests_name_the_image_the_readme_builds() -> None:
    (image,) = kustomization()["images"]
    assert {c.body["image"] for c in containers()} == {image["name"]}
    built = re.findall(r"^docker build -t (\S+) \.$", readme_section("Running in production"), re.M)
    assert built == [f"{image['newName']}:{image['newTag']}"]


def test_the_readme_creates_the_secret_before_it_applies_the_manifests() -> None:
    """It once applied them first: pods naming a missing Secret do not start."""
    section = readme_section("Running in production")
    lines = section.splitlines()

    def first(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    assert first("kubectl create namespace ops") < first("kubectl -n ops create secret")
    assert first("kubectl -n ops create secret") < first("kubectl apply -k deploy/kubernetes/")
    assert first("docker build") < first("kubectl apply -k deploy/kubernetes/")


# What python:3.11-slim (Debian) has without installing anything that the runbooks call:
# bash's keywords and builtins, coreutils, grep, sed.
SHELL_WORDS = frozenset(
    "if then else elif fi for while do done case esac in echo printf test".split()
)
SLIM_BASE = frozenset("cat date mv tail head cut sort uniq wc tr sleep grep sed env ls".split())


def _installed() -> set[str]:
    """Programs the Dockerfile adds: apt-get install's packages, files put in /usr/local/bin."""
    found: set[str] = set()
    for word, args in instructions():
        if word != "RUN":
            continue
        for packages in re.findall(r"apt-get install ((?:-\S+\s+)*)([^&]+)", args):
            found |= {name for name in packages[1].split() if not name.startswith("-")}
        found |= set(re.findall(r"-o /usr/local/bin/([a-z0-9_-]+)", args.replace("-fsSLo ", "-o ")))
    return found


def _programs() -> dict[str, set[str]]:
    """The first word of each command in the shipped runbooks' shell steps, and where."""
    from ops_toolkit.runbook.parse import read_runbook

    called: dict[str, set[str]] = {}
    for path in sorted((ROOT / "runbooks").glob("*.md")):
        for step in read_runbook(str(path)).steps:
            if step.kind not in ("bash", "sh", "shell"):
                continue
            for line in step.code.splitlines():
                for part in re.split(r"\|\||&&|[|;]|\$\(", line):
                    words = part.strip().split()
                    if words and re.fullmatch(r"[a-z][a-z0-9_.-]*", words[0]):
                        called.setdefault(words[0], set()).add(f"{path.name}:{step.name}")
    return called


def test_every_program_the_shipped_runbooks_call_is_in_the_image() -> None:
    """A newcomer found the image without curl and kubectl: ops serve's unattended diagnose
    steps (health-endpoint's curl, the pods' kubectl) failed in the image they ship in."""
    installed = _installed()
    assert {"curl", "kubectl"} <= installed, installed
    missing = {
        program: sorted(places)
        for program, places in _programs().items()
        if program not in SHELL_WORDS | SLIM_BASE | installed
    }
    assert missing == {}
