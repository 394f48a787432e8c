"""``ops check``: every file ops reads, validated in one pass, as ``amtool check-config`` does.

Each part is checked on its own so one bad file does not hide the others' problems; then
the references between them: the runbook an SLO names exists, the alerts a runbook claims
are ones the generated rules (or rule files given) define, ops.yaml's report and policy
``slos:`` selectors match an SLO, and each rollout plan's SLOs and runbooks exist. An unknown claimed alert
is a warning, not an error: runbooks for kube-prometheus's alerts are normal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ops_toolkit.errors import ConfigError, OpsError


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    part: str  # "config", "routes", "oncall", "slos", "runbooks", "rollouts", "references"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "part": self.part, "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    problems: tuple[Problem, ...]
    counts: dict[str, int]  # what was read: files or items per part

    @property
    def errors(self) -> int:
        return sum(p.level == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.level == "warning" for p in self.problems)


def alert_names(rule_texts: Iterable[str]) -> set[str]:
    """The ``alert:`` names in Prometheus rule files' text (unreadable files name nothing)."""
    import yaml

    from ops_toolkit.yamlpath import SafeLoader  # huge integers and bad dates: YAML errors

    names: set[str] = set()
    for text in rule_texts:
        try:
            document = yaml.load(text, Loader=SafeLoader)
        except (yaml.YAMLError, UnicodeEncodeError):  # a lone surrogate: the C loader's error
            continue
        groups = document.get("groups", []) if isinstance(document, dict) else []
        for group in groups if isinstance(groups, list) else []:
            rules = group.get("rules", []) if isinstance(group, dict) else []
            for rule in rules if isinstance(rules, list) else []:
                if isinstance(rule, dict) and isinstance(rule.get("alert"), str):
                    names.add(rule["alert"])
    return names


def check_all(
    config_path: str | None,
    *,
    slo_paths: Sequence[str] = (),
    runbook_paths: Sequence[str] = (),
    rule_files: Sequence[str] = (),
    rollout_paths: Sequence[str] = (),
) -> CheckReport:
    from ops_toolkit.config import OpsConfig, configured_credential_variables, load_config

    problems: list[Problem] = []
    counts: dict[str, int] = {}
    try:
        config = load_config(config_path)
        counts["config"] = 1 if config.source else 0
    except OpsError as error:
        problems.append(Problem("error", "config", str(error)))
        config = OpsConfig()
    problems += _routes(config, counts)
    problems += _oncall(config, counts)
    files = _slos(slo_paths or config.slos, problems, counts)
    runbooks = _runbooks(
        runbook_paths or (config.runbooks,),
        problems,
        counts,
        configured_credential_variables(config),
    )
    folder = rules_folder(config)
    shipped = rule_files_in(folder)
    home = os.path.dirname(config.source) if config.source else ""
    problems += _references(files, runbooks, (*shipped, *rule_files), folder, home)
    problems += _selectors(config, [slo for f in files for slo in f.slos])
    problems += _rollouts(rollout_paths or (DEFAULT_ROLLOUTS,), counts)
    return CheckReport(tuple(problems), counts)


DEFAULT_ROLLOUTS = "rollouts"


def _selectors(config: Any, slos: Sequence[Any]) -> list[Problem]:
    """ops.yaml's report and policy ``slos:`` selectors that match no SLO (a typo there
    left a report empty, or a policy silent, until ``ops serve`` got to it)."""
    from ops_toolkit.reports.scheduled import select_slos
    from ops_toolkit.suggest import did_you_mean

    keys = [s.key for s in slos]
    options = keys + sorted({f"{s.service}/*" for s in slos})
    problems: list[Problem] = []
    for part, items in (("reports", config.reports), ("policies", config.policies)):
        for index, item in enumerate(items):
            for selector in item.slos:
                if os.path.exists(selector) or select_slos(slos, [selector]):
                    continue  # a report's entry may be a path: it loads its own SLOs
                hint = did_you_mean(selector, options)
                problems.append(
                    Problem(
                        "error",
                        "references",
                        f"{config.source}: {part}[{index}].slos: no SLO matches {selector}{hint}",
                    )
                )
    return problems


def _rollouts(paths: Sequence[str], counts: dict[str, int]) -> list[Problem]:
    """Each rollout plan parses, and what it names exists: the SLOs of its checks, the
    services of its status checks, its runbooks and their params."""
    from ops_toolkit.rollout.plan import load_plan
    from ops_toolkit.rollout.validate import plan_problems, reads_slos
    from ops_toolkit.slo.spec import load_slos

    problems: list[Problem] = []
    files = _plan_files(paths, problems)
    if not files and tuple(paths) == (DEFAULT_ROLLOUTS,):
        return problems  # a project without rollouts: nothing to count
    plans = 0
    for path in files:
        try:
            plan = load_plan(path)
            slos = load_slos(plan.slos) if reads_slos(plan) else []
        except OpsError as error:
            problems.append(Problem("error", "rollouts", str(error)))
            continue
        plans += 1
        problems += [Problem("error", "rollouts", p) for p in plan_problems(plan, slos)]
    counts["rollouts"] = plans
    return problems


def _plan_files(paths: Sequence[str], problems: list[Problem]) -> list[str]:
    """The plans under ``paths`` (``*.yaml`` of a folder); the default folder may be absent."""
    import glob

    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(glob.glob(os.path.join(glob.escape(path), "*.yaml")))
        elif os.path.isfile(path):
            files.append(path)
        elif path != DEFAULT_ROLLOUTS:
            problems.append(Problem("error", "rollouts", f"{path}: no such file or directory"))
    return files


def rules_folder(config: Any) -> str:
    """Where the project keeps its rule files: the routes file's folder (``alerts/``)."""
    routes = routes_file(config)
    return (os.path.dirname(routes) or ".") if routes else "alerts"


def rule_files_in(folder: str) -> list[str]:
    """The Prometheus rule files (``*.rules.yaml``) in ``folder``.

    Not every alert comes from an SLO: a hand-written ``up == 0`` alert kept beside the
    generated rules (``alerts/search-api.rules.yaml``) defines alerts runbooks claim too.
    """
    import glob

    return sorted(glob.glob(os.path.join(glob.escape(folder), "*.rules.yaml")))


DEFAULT_ROUTES = os.path.join("alerts", "routes.yaml")


def routes_file(config: Any) -> str | None:
    """ops.yaml's ``routes:``, else ``alerts/routes.yaml`` when it exists."""
    if config.routes:
        return str(config.routes)
    return DEFAULT_ROUTES if os.path.isfile(DEFAULT_ROUTES) else None


def _routes(config: Any, counts: dict[str, int]) -> list[Problem]:
    from ops_toolkit.escalate.route import load_routes

    try:
        routing = load_routes(routes_file(config))
    except OpsError as error:
        return [Problem("error", "routes", str(error))]
    counts["routes"] = len(routing.routes)
    return []


def _oncall(config: Any, counts: dict[str, int]) -> list[Problem]:
    """The on-call file, and the escalation policies routes name exist in it."""
    from ops_toolkit.config import oncall_path
    from ops_toolkit.escalate.oncall import load_oncall, smtp_problem
    from ops_toolkit.escalate.route import load_routes

    path = oncall_path(config)
    try:
        oncall = load_oncall(path) if path else None
    except OpsError as error:
        return [Problem("error", "oncall", str(error))]
    problems = []
    unsendable = smtp_problem(oncall, os.environ) if oncall else None
    if unsendable is not None:  # 'ops serve' refuses to start on it
        problems.append(Problem("error", "oncall", unsendable))
    if oncall is not None:
        counts["schedules"] = len(oncall.schedules)
        counts["policies"] = len(oncall.policies)
    try:
        routing = load_routes(routes_file(config))
    except OpsError:
        return problems  # reported with the routes
    try:
        routing.check_policies(list(oncall.policies) if oncall else [])
    except OpsError as error:
        problems.append(Problem("error", "references", str(error)))
    return problems


def _slos(paths: Sequence[str], problems: list[Problem], counts: dict[str, int]) -> list[Any]:
    from ops_toolkit.slo.spec import load_slo_files, slo_files

    try:
        names = slo_files(paths)
    except OpsError as error:
        problems.append(Problem("error", "slos", str(error)))
        return []
    errors: list[ConfigError] = []
    files = load_slo_files(names, errors)  # together: OpenSLO files refer to each other
    problems += [Problem("error", "slos", str(error)) for error in errors]
    counts["slos"] = sum(len(f.slos) for f in files)
    return files


def _runbooks(
    paths: Sequence[str],
    problems: list[Problem],
    counts: dict[str, int],
    credential_variables: frozenset[str] = frozenset(),
) -> list[Any]:
    from ops_toolkit.runbook.catalog import lint_paths, runbook_files
    from ops_toolkit.runbook.parse import read_runbook

    existing = [p for p in paths if os.path.exists(p)]
    for missing in sorted(set(paths) - set(existing)):
        problems.append(Problem("error", "runbooks", f"{missing}: no such file or directory"))
    runbooks = []
    for finding in lint_paths(existing, credential_variables) if existing else []:
        if finding.level != "note":  # a fact about the file (e.g. a page without steps)
            # the level once, in front as for every problem: not "warning: x.md:1: warning: ..."
            where = f"{finding.source}:{finding.line}"
            problems.append(Problem(finding.level, "runbooks", f"{where}: {finding.message}"))
    for path in runbook_files(existing) if existing else []:
        try:
            runbooks.append(read_runbook(path))
        except OpsError:
            continue  # already reported by lint
    counts["runbooks"] = len(runbooks)
    return runbooks


def _references(
    files: Sequence[Any],
    runbooks: Sequence[Any],
    rule_files: Sequence[str],
    folder: str,
    home: str = "",
) -> list[Problem]:
    """``home``: ops.yaml's folder. An SLO's ``runbook:`` is a path from the repository's
    root (links are built from it), which is where ops.yaml usually is: it is found from the
    working directory or from there."""
    from datetime import UTC, datetime

    from ops_toolkit.config import under
    from ops_toolkit.slo.correction_rules import Horizon
    from ops_toolkit.slo.rules import generate
    from ops_toolkit.yamlpath import read_text

    problems: list[Problem] = []
    for file in files:
        for slo in file.slos:
            runbook = slo.runbook.split("#", 1)[0] if slo.runbook else ""
            if runbook and not any(os.path.isfile(p) for p in (runbook, under(home, runbook))):
                problems.append(
                    Problem(
                        "error",
                        "references",
                        f"{slo.place}: runbook {slo.runbook!r} does not exist",
                    )
                )
    texts: list[str] = []
    # Only the alert names are read from these rules, and they do not depend on the horizon
    # recurring corrections are expanded over: any start will do.
    horizons = {f.service: Horizon(datetime(2000, 1, 1, tzinfo=UTC)) for f in files}
    try:
        texts += generate(list(files), None, False, horizons=horizons).values()
    except OpsError as error:
        problems.append(Problem("error", "slos", f"rules cannot be generated: {error}"))
    for path in rule_files:
        try:
            texts.append(read_text(path))
        except OpsError as error:
            problems.append(Problem("error", "references", str(error)))
    known = alert_names(texts)
    for runbook in runbooks:
        for alert in runbook.alerts:
            if alert not in known:
                problems.append(
                    Problem(
                        "warning",
                        "references",
                        f"{runbook.source}: claims alert {alert!r}, which neither the generated "
                        f"rules nor the rule files in {folder}/ or --rules define",
                    )
                )
    return problems
