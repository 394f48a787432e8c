"""Status, advance and rollback of a plan: the decisions, with the outside world injected.

``RolloutWorld`` carries the edges (metrics, the runbook runner, the milestone publisher,
the clock); the CLI builds it. An advance writes ``advance_started`` with its evidence before
the runbook runs and ``advance_finished`` after, under a lock: a crash in between, or a run
that ended failed, waiting or aborted, leaves a pending advance that the next ``advance``
resumes (same run id, succeeded steps not run again), so a stage is never entered twice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import ConfigError
from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.rollout.checks import CheckResult, evaluate_checks
from ops_toolkit.rollout.history import History, Progress, progress
from ops_toolkit.rollout.plan import RolloutPlan, RunbookCall, Stage
from ops_toolkit.slo.model import SLO

SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str
    runbook: str


class StageRunner(Protocol):
    """Runs a stage's runbook; a ``run_id`` already known to the state store is resumed."""

    def run(self, call: RunbookCall, run_id: str) -> RunOutcome: ...

    def new_run_id(self, now: float) -> str: ...


@dataclass(frozen=True)
class RolloutWorld:
    slos: Sequence[SLO]
    source: Callable[[], MetricsSource]
    runner: StageRunner
    publish: Callable[[str, str, dict[str, Any]], None] | None = None  # group, channel, message
    runbook_base_url: str | None = None
    clock: Callable[[], float] = time.time
    user: str = "unknown"
    host: str = "unknown"
    use_rules: bool | None = None  # the SLO checks' source: forced (True, False) or chosen


@dataclass(frozen=True)
class RolloutStatus:
    plan: RolloutPlan
    at: float
    progress: Progress
    next_stage: Stage | None
    checks: tuple[CheckResult, ...] = ()
    soak_left: float = 0.0
    blocked: tuple[str, ...] = ()
    cannot_tell: tuple[str, ...] = ()  # each distinct reason a check could not be read, once
    no_data: tuple[str, ...] = ()  # checks read but without data yet: "check 'x': why"

    @property
    def ready(self) -> bool:
        return self.next_stage is not None and not self.blocked and not self.undecided

    @property
    def undecided(self) -> bool:
        """Some check can say nothing yet: its numbers could not be read, or there were none."""
        return bool(self.cannot_tell or self.no_data)

    @property
    def verdict(self) -> str:
        """``ready``, ``blocked`` (something known stops it), ``cannot tell`` (a check that
        decides could not be read, or read no data: an outage, or a series with no samples
        yet, is not a blocked stage), or ``last``."""
        if self.blocked:
            return "blocked"
        if self.next_stage is None:
            return "last"
        return "cannot tell" if self.undecided else "ready"

    def as_dict(self) -> dict[str, Any]:
        current = self.progress.stage
        return {
            "plan": self.plan.name,
            "service": self.plan.service,
            "evaluated_at": _iso(self.at),
            "stage": current,
            "stage_number": self.plan.index(current) + 1,
            "stages": [s.name for s in self.plan.stages],
            "since": _iso(self.progress.since) if self.progress.since else None,
            "next_stage": self.next_stage.name if self.next_stage else None,
            "ready": self.ready,
            "verdict": self.verdict,
            "soak_left_seconds": round(self.soak_left),
            "blocked_by": list(self.blocked),
            "cannot_tell": [*self.cannot_tell, *self.no_data],
            "checks": [c.as_dict() for c in self.checks],
            "pending": dict(self.progress.pending) if self.progress.pending else None,
            "pending_status": self.progress.pending_status,
        }


@dataclass(frozen=True)
class AdvanceResult:
    status: RolloutStatus
    outcome: RunOutcome | None = None
    advanced: bool = False
    resumed: bool = False
    dry_run: bool = False
    messages: list[str] = field(default_factory=list)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def unfinished_text(plan: RolloutPlan, state: Progress) -> str:
    """What became of the pending advance or rollback, and the command that goes on with it."""
    assert state.pending is not None
    kind = str(state.pending["event"]).split("_")[0]
    stage = str(state.pending["stage"])
    run = f"run {state.pending.get('run_id')}"
    what = f"the {kind} {'to' if kind == 'advance' else 'of'} stage {stage!r} ({run})"
    if state.pending_status is None:
        ended = "is unfinished: ops stopped before recording how it ended"
    elif state.pending_status == "waiting":
        since = _iso(state.pending_at or 0)
        ended = f"waits for a person since {since} (a confirm or manual step)"
    else:
        ended = f"ended {state.pending_status} at {_iso(state.pending_at or 0)}"
    todo = f"'ops rollout {kind} {plan.name}' resumes it (steps that succeeded are not run again)"
    if kind == "advance" and any(s.name == stage and s.rollback for s in plan.stages):
        todo += f", 'ops rollout rollback {plan.name}' undoes it"
    return f"{what} {ended}; {todo}"


def evaluate_status(
    plan: RolloutPlan, events: Sequence[Mapping[str, Any]], world: RolloutWorld, at: float
) -> RolloutStatus:
    """Where the plan stands and whether the next stage may be entered at ``at``."""
    state = progress(events, [s.name for s in plan.stages])
    position = plan.index(state.stage)
    blocked = [unfinished_text(plan, state)] if state.pending else []
    if position + 1 >= len(plan.stages):  # a failed rollback of the last stage still shows
        return RolloutStatus(plan, at, state, None, blocked=tuple(blocked))
    stage = plan.stages[position + 1]
    checks = (
        tuple(
            evaluate_checks(
                stage,
                world.slos,
                world.source(),
                at,
                step=plan.soak_step,
                use_rules=world.use_rules,
            )
        )
        if stage.checks
        else ()
    )
    blocked.extend(
        f"check {c.name!r}: {c.detail}" for c in checks if not c.passed and not c.cannot_tell
    )
    soak_left = 0.0
    if stage.soak and state.since is not None:
        soak_left = max(0.0, state.since + stage.soak - at)
        if soak_left > 0:
            blocked.append(
                f"soak: stage {state.stage!r} entered {_iso(state.since)} must hold for "
                f"{format_duration(stage.soak)}; {format_duration(math.ceil(soak_left / 60) * 60)} left"
            )
    cannot_tell = distinct_causes([c.error for c in checks if c.error])
    no_data = tuple(f"check {c.name!r}: {c.detail}" for c in checks if c.no_data)
    return RolloutStatus(
        plan, at, state, stage, checks, soak_left, tuple(blocked), cannot_tell, no_data
    )


def refusal_text(status: RolloutStatus, reference: str) -> str:
    """Why an advance did not enter the next stage (blocked, or cannot tell), and what to do:
    the reasons themselves are listed above it, in the status."""
    assert status.next_stage is not None
    plan, stage = status.plan.name, status.next_stage.name
    again = f"'ops rollout advance {reference}'"
    if status.blocked:
        return (
            f"{plan}: stage {stage!r} not entered: blocked (the reasons above); nothing ran. "
            f"Run {again} again once they are resolved."
        )
    waits = []
    if status.cannot_tell:
        waits.append("Prometheus can be read (check --prometheus)")
    if status.no_data:
        waits.append("the checks' series have data (traffic in their windows)")
    return (
        f"{plan}: stage {stage!r} not entered: cannot tell whether its checks hold (the "
        f"reasons above); nothing ran. Run {again} again once {' and '.join(waits)}."
    )


def distinct_causes(errors: Sequence[str]) -> tuple[str, ...]:
    """Each error once, and none that only repeats a shorter one it contains: with
    Prometheus down every check fails on the same 'cannot reach Prometheus at ...', and the
    status checks' errors wrap it in each SLO's query (before: printed seven times)."""
    kept: list[str] = []
    for error in sorted(set(errors), key=len):
        if not any(cause in error for cause in kept):
            kept.append(error)
    return tuple(e for e in dict.fromkeys(errors) if e in kept)


def _runbook_path(call: RunbookCall | None, plan: RolloutPlan) -> str | None:
    if call is None:
        return None
    from ops_toolkit.runbook.catalog import resolve_runbook

    return resolve_runbook(call.name, plan.runbooks)


def _publish_milestone(
    plan: RolloutPlan, world: RolloutWorld, event: Mapping[str, Any], evidence: Sequence[Any]
) -> None:
    if world.publish is None or not plan.channel:
        return
    from ops_toolkit.rollout.message import milestone

    stage = plan.stage(str(event["stage"]))
    results = [CheckResult.from_dict(e) if isinstance(e, dict) else e for e in evidence]
    message = milestone(
        plan,
        stage,
        results,
        # a stage without a runbook ran nothing: its id keys the event, it is no runbook run
        # that 'ops runbook runs' could show
        run_id=event.get("run_id") if stage.runbook is not None else None,
        runbook_path=event.get("runbook"),
        runbook_base_url=world.runbook_base_url,
        at=float(event["at"]),
        user=str(event.get("user", "unknown")),
    )
    world.publish(f"rollout:{plan.name}:{stage.name}:{event.get('run_id')}", plan.channel, message)


def _event(world: RolloutWorld, kind: str, stage: str, **fields: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "stage": stage,
        "at": world.clock(),
        "user": world.user,
        "host": world.host,
        **fields,
    }


def _run(
    plan: RolloutPlan, history: History, world: RolloutWorld, started: Mapping[str, Any]
) -> RunOutcome:
    """Run (or resume) the runbook a started event names, then record how it ended."""
    kind = "advance" if started["event"] == "advance_started" else "rollback"
    stage = plan.stage(str(started["stage"]))
    call = stage.runbook if kind == "advance" else stage.rollback
    run_id = str(started["run_id"])
    outcome = RunOutcome(run_id, SUCCEEDED, "") if call is None else world.runner.run(call, run_id)
    history.append(
        _event(world, f"{kind}_finished", stage.name, run_id=run_id, status=outcome.status)
    )
    if outcome.status == SUCCEEDED and kind == "advance":
        _publish_milestone(plan, world, {**started, "at": world.clock()}, started["checks"])
    elif outcome.status == SUCCEEDED and world.publish is not None and plan.channel:
        from ops_toolkit.rollout.message import rolled_back

        message = rolled_back(plan, stage, run_id=run_id, at=world.clock(), user=world.user)
        world.publish(f"rollout:{plan.name}:rollback:{run_id}", plan.channel, message)
    return outcome


def advance(
    plan: RolloutPlan, history: History, world: RolloutWorld, *, at: float, dry_run: bool = False
) -> AdvanceResult:
    """Enter the next stage when its checks hold and the soak is over; else say why not."""
    with history.locked():
        events = history.read()
        status = evaluate_status(plan, events, world, at)
        pending = status.progress.pending
        if pending and pending["event"] == "advance_started" and not dry_run:
            outcome = _run(plan, history, world, pending)
            return AdvanceResult(status, outcome, outcome.status == SUCCEEDED, resumed=True)
        if pending and pending["event"] == "rollback_started":
            raise ConfigError(f"{history.path}: {unfinished_text(plan, status.progress)}")
        if status.next_stage is None:
            raise ConfigError(
                f"{plan.source}: plan {plan.name!r} is at its last stage "
                f"{status.progress.stage!r}; nothing to advance"
            )
        if status.blocked or status.undecided or dry_run:
            return AdvanceResult(status, dry_run=dry_run)
        stage = status.next_stage
        run_id = world.runner.new_run_id(world.clock())
        started = _event(
            world,
            "advance_started",
            stage.name,
            run_id=run_id,
            previous=status.progress.stage,
            runbook=_runbook_path(stage.runbook, plan),
            params=dict(stage.runbook.params) if stage.runbook else {},
            evaluated_at=at,
            checks=[c.as_dict() for c in status.checks],
        )
        history.append(started)
        outcome = _run(plan, history, world, started)
        return AdvanceResult(status, outcome, outcome.status == SUCCEEDED)


def rollback(plan: RolloutPlan, history: History, world: RolloutWorld) -> RunOutcome:
    """Run the current stage's rollback runbook; on success the plan is back one stage.

    With an advance left unfinished, the stage it was entering is the one rolled back (its
    partial changes undone) and the advance is closed as abandoned.
    """
    with history.locked():
        events = history.read()
        state = progress(events, [s.name for s in plan.stages])
        pending = state.pending
        if pending and pending["event"] == "rollback_started":
            return _run(plan, history, world, pending)
        if pending and pending["event"] == "advance_started":
            name = str(pending["stage"])
            history.append(
                _event(
                    world,
                    "advance_finished",
                    name,
                    run_id=pending.get("run_id"),
                    status="abandoned",
                )
            )
            state = progress(history.read(), [s.name for s in plan.stages])
        else:
            if state.stage is None:
                raise ConfigError(
                    f"{plan.source}: plan {plan.name!r} has not started; nothing to roll back"
                )
            name = state.stage
        stage = plan.stage(name)
        if stage.rollback is None:
            raise ConfigError(
                f"{plan.source}: stage {name!r} has no rollback runbook; add 'rollback:' to it"
            )
        started = _event(
            world,
            "rollback_started",
            name,
            run_id=world.runner.new_run_id(world.clock()),
            runbook=_runbook_path(stage.rollback, plan),
            params=dict(stage.rollback.params),
        )
        history.append(started)
        return _run(plan, history, world, started)
