"""Running a runbook: parameters, step selection, retries, expectations, state and audit.

The outside world (environment, terminal, state directory, audit file, Prometheus, clock) is
passed in as a ``World``; this module decides what runs and records what happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets as token
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ops_toolkit.durations import format_duration
from ops_toolkit.errors import MetricsError, OpsError, ReleasedEarly, RunbookError
from ops_toolkit.masking import MASK, MIN_SECRET_LENGTH, Masker, too_short
from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.runbook.attributes import step_options
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.background import ended, is_own_group, leader_start, stop_background
from ops_toolkit.runbook.context import Attempt, RunUI, StepContext
from ops_toolkit.runbook.environment import ops_credentials, os_refuses, person_environment
from ops_toolkit.runbook.expr import evaluate
from ops_toolkit.runbook.kinds import ShellKind, StepKind, kind_for, not_runnable
from ops_toolkit.runbook.lint import lint_runbook
from ops_toolkit.runbook.model import Param, Runbook, Step
from ops_toolkit.runbook.state import (
    DONE,
    MAYBE_STARTED,
    RunRecord,
    StateStore,
    StepRecord,
    earlier_attempt,
)
from ops_toolkit.suggest import did_you_mean

if TYPE_CHECKING:
    from ops_toolkit.runbook.process import HeldProcess

FAILED = frozenset({"failed", "timed_out"})
WAITING = frozenset({"needs_confirmation", "pending_manual"})
# A step whose shell left ops's gate before its turn (``ReleasedEarly``): recorded as
# ``starting`` (resume asks before running it again), and the run fails.
RELEASED_EARLY = (
    "its shell left ops's gate before its turn (another process wrote to its stdin or ended "
    "it): it may have run; check what it did, then resume with --rerun-unknown or "
    "--skip-unknown"
)


@dataclass(frozen=True)
class RunOptions:
    params: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[str, ...] = ()
    from_step: str | None = None
    tags: tuple[str, ...] = ()
    yes: bool = False
    keep_going: bool = False
    kill_grace: float = 5.0
    allow_changed: bool = False
    rerun_unknown: bool = False
    skip_unknown: bool = False
    run_id: str | None = None  # chosen by the caller (a rollout records it before the run)


def no_metrics() -> MetricsSource:
    raise MetricsError(
        "no Prometheus URL: pass --prometheus URL, set OPS_PROMETHEUS_URL, or put prometheus: in "
        "ops.yaml"
    )


@dataclass(frozen=True)
class World:
    """Everything a run touches outside this module.

    ``env`` is what steps start from (see ``environment``: the person's environment minus
    ops's credentials at the CLI, an allow-list in ``ops serve``); ``credentials`` are ops's
    own secrets, kept from steps and masked in everything a run writes;
    ``credential_variables`` the variables ops's configuration reads credentials from
    (``routing_key_env``): a runbook naming one in ``env:``/``secrets:`` is refused.
    """

    ui: RunUI
    store: StateStore
    audit: AuditLog
    env: Mapping[str, str] = field(default_factory=lambda: person_environment(os.environ))
    credentials: Mapping[str, str] = field(default_factory=lambda: ops_credentials(os.environ))
    credential_variables: frozenset[str] = frozenset()
    metrics: Callable[[], MetricsSource] = no_metrics
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    user: str = "unknown"
    host: str = "unknown"


@dataclass(frozen=True)
class PlannedStep:
    """One line of ``--dry-run``."""

    name: str
    kind: str
    would_run: bool
    reason: str
    action: str
    env: dict[str, str]


def check_runnable(runbook: Runbook, credential_variables: Collection[str] = ()) -> None:
    """Refuse to run a runbook with lint errors: they are the mistakes that bite mid-run."""
    errors = [f for f in lint_runbook(runbook, credential_variables) if f.level == "error"]
    if errors:
        listed = "\n  ".join(str(f) for f in errors)
        raise RunbookError(
            f"{runbook.source}: fix these before running (ops runbook lint):\n  {listed}"
        )


def resolve_params(
    runbook: Runbook, given: Mapping[str, str], env: Mapping[str, str], ui: RunUI | None
) -> dict[str, str]:
    """Values from ``-p``, then the environment, then defaults; each checked before any step."""
    for name in given:
        if runbook.param(name) is None:
            known = [p.name for p in runbook.params]
            hint = did_you_mean(name, known) or (
                f" (params: {', '.join(known)})" if known else " (it declares none)"
            )
            raise RunbookError(f"{runbook.source}: -p {name}: the runbook has no such param{hint}")
    values: dict[str, str] = {}
    missing = []
    for param in runbook.params:
        if param.secret and param.name in given:
            raise RunbookError(
                f"{runbook.source}:{param.line}: param {param.name} is secret: export it in the "
                "environment instead of passing it with -p (command lines end up in logs)"
            )
        value = given.get(param.name, env.get(param.name, param.default))
        if value is None and (param.must_be_given or param.secret):
            if ui is not None and ui.interactive:
                value = _ask_until_valid(runbook, param, ui)
            else:
                missing.append(param)
                continue
        values[param.name] = value if value is not None else ""
    if missing:
        names = ", ".join(p.name for p in missing)
        example = " ".join(p.example for p in missing)
        raise RunbookError(f"{runbook.source}: missing required param(s): {names}; pass {example}")
    for param in runbook.params:
        check_param_value(runbook, param, values[param.name])
    return values


def _ask_until_valid(runbook: Runbook, param: Param, ui: RunUI) -> str:
    """A value typed at the prompt, asked again until it is valid: a typo must not end the run."""
    while True:
        value = ui.ask_param(param)
        try:
            check_param_value(runbook, param, value)
        except RunbookError as error:
            ui.note(f"{error}; try again")
            continue
        return value


def check_param_value(runbook: Runbook, param: Param, value: str) -> None:
    """Refuse a value the OS cannot pass, a short secret, or one its pattern/choices reject."""
    shown = MASK if param.secret else repr(value)
    refused = os_refuses(param.name, value)
    if refused:
        raise RunbookError(
            f"{runbook.source}:{param.line}: param {param.name}: the value {refused}, so it "
            "cannot be passed to a step"
        )
    if param.secret and too_short(value):
        raise RunbookError(
            f"{runbook.source}:{param.line}: param {param.name}: a secret must be at least "
            f"{MIN_SECRET_LENGTH} characters long; a shorter one cannot be masked in output"
        )
    if param.pattern is not None and not (param.secret and not value):
        try:
            matched = re.fullmatch(param.pattern, value)
        except re.error as exc:
            raise RunbookError(
                f"{runbook.source}:{param.line}: param {param.name}: bad pattern: {exc}"
            ) from None
        if not matched:
            raise RunbookError(
                f"{runbook.source}:{param.line}: param {param.name}: value {shown} does not "
                f"match pattern {param.pattern!r}"
            )
    if param.choices and value not in param.choices:
        raise RunbookError(
            f"{runbook.source}:{param.line}: param {param.name}: value {shown} is not one of "
            f"{', '.join(param.choices)}"
        )


def secret_values(
    runbook: Runbook, env: Mapping[str, str], params: Mapping[str, str]
) -> dict[str, str]:
    found = {name: env[name] for name in runbook.secrets if env.get(name)}
    found.update(
        {p.name: params[p.name] for p in runbook.params if p.secret and params.get(p.name)}
    )
    return found


def run_masker(runbook: Runbook, world: World, params: Mapping[str, str]) -> Masker:
    """Masks the runbook's secrets and ops's own credentials (each in all its forms)."""
    values = secret_values(runbook, world.env, params)
    return Masker([*values.values(), *world.credentials.values()])


def plan_steps(runbook: Runbook, options: RunOptions) -> list[Step]:
    """The steps a run will go through, in document order.

    ``--step``/``--from`` take a name or a Runme ``id``. A run of all steps leaves out the
    blocks ops cannot run (documentation to it); naming one with ``--step`` is refused.
    """
    names = [s.name for s in runbook.steps]
    selected: list[Step] = []
    for reference in (*options.steps, *([options.from_step] if options.from_step else [])):
        found = runbook.step(reference)
        if found is None:
            raise RunbookError(
                f"{runbook.source}: no step {reference!r}{did_you_mean(reference, names)}; see "
                f"'ops runbook show {runbook.name}'"
            )
        if reference in options.steps and kind_for(found) is None:
            raise RunbookError.at(
                runbook.source, found.line, f"step {found.name!r}: {not_runnable(found)}"
            )
        selected.append(found)
    if options.steps:
        return [s for s in runbook.steps if s in selected[: len(options.steps)]]
    handlers = {s.attr("on_failure") for s in runbook.steps}
    chosen = [
        s
        for s in runbook.steps
        if s.name not in handlers
        and (s.attr("excludeFromRunAll") or "").lower() != "true"
        and kind_for(s) is not None
    ]
    if options.from_step:
        start = runbook.steps.index(selected[-1])
        after = {s.name for s in runbook.steps[start:]}
        chosen = [s for s in chosen if s.name in after]
    if options.tags:
        tagged = [s for s in chosen if set(s.tags) & set(options.tags)]
        if chosen and not tagged:
            raise RunbookError(_no_such_tag(runbook, options.tags))
        chosen = tagged
    if not chosen:
        raise RunbookError(f"{runbook.source}: no step matches the selection")
    return chosen


def _no_such_tag(runbook: Runbook, wanted: tuple[str, ...]) -> str:
    """No step has any of the ``--tag`` values: name the tags that exist (and a close one)."""
    tags = sorted({t for s in runbook.steps for t in s.tags})
    asked = " or ".join(repr(t) for t in wanted)
    hint = did_you_mean(wanted[0], tags) if len(wanted) == 1 else ""
    known = f"; its tags: {', '.join(tags)}" if tags else "; its steps have no tags"
    return f"{runbook.source}: no step has tag {asked}{hint}{known}"


def new_run_id(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + token.token_hex(3)


def start_run(runbook: Runbook, options: RunOptions, world: World) -> RunRecord:
    """Run ``runbook`` from the top (or the selection); returns the finished record."""
    check_runnable(runbook, world.credential_variables)
    params = resolve_params(runbook, options.params, world.env, world.ui)
    _require_secrets(runbook, world.env)
    _refuse_secrets_in_plain_params(runbook, params, run_masker(runbook, world, params))
    plan = plan_steps(runbook, options)
    now = world.clock()
    hidden = {p.name for p in runbook.params if p.secret}
    record = RunRecord(
        run_id=options.run_id or new_run_id(now),
        runbook=runbook.source,
        runbook_sha256=runbook.sha256,
        user=world.user,
        host=world.host,
        started_at=now,
        params={k: v for k, v in params.items() if k not in hidden},
        plan=[s.name for s in plan],
        steps={s.name: StepRecord(s.name) for s in plan},
        options={
            "keep_going": options.keep_going,
            "yes": options.yes,
            **({"tags": list(options.tags)} if options.tags else {}),
            **({"steps": list(options.steps)} if options.steps else {}),
        },
    )
    with world.store.claim(record.run_id):
        return _execute(runbook, record, params, options, world)


def resume_run(record: RunRecord, runbook: Runbook, options: RunOptions, world: World) -> RunRecord:
    """Go on with ``record`` from its first step that did not succeed.

    Refused while another ops runs it; the record is read again once this process holds
    the run, so it is never resumed from a state that the other ops has since moved on.
    """
    with world.store.claim(record.run_id):
        return _resume(world.store.load(record.run_id), runbook, options, world)


def _resume(record: RunRecord, runbook: Runbook, options: RunOptions, world: World) -> RunRecord:
    if runbook.sha256 != record.runbook_sha256 and not options.allow_changed:
        raise RunbookError(
            f"{runbook.source}: the runbook changed since run {record.run_id} started; review "
            "the change, then resume with --allow-changed"
        )
    from ops_toolkit.runbook.process import group_is_running

    for step in record.steps.values():  # ids are reused: signal no group that is not ours
        if step.pgid and not is_own_group(step.pgid, step.leader_start):
            if step.status not in MAYBE_STARTED:  # a background step's (else: asked below)
                world.ui.note(f"run {record.run_id}: step {step.name!r}: {ended(step.pgid)}")
                step.message = "; ".join(m for m in (step.message, ended(step.pgid)) if m)
            step.pgid = step.leader_start = None
    unknown = [step for step in record.steps.values() if step.status in MAYBE_STARTED]
    for step in unknown:
        if step.pgid and group_is_running(step.pgid):
            raise RunbookError(
                f"run {record.run_id}: step {step.name!r} is still running as process group "
                f"{step.pgid}; wait for it or stop it (kill -TERM -{step.pgid}), then resume"
            )
    if unknown and not (options.rerun_unknown or options.skip_unknown):
        names = ", ".join(repr(step.name) for step in unknown)
        raise RunbookError(
            f"run {record.run_id}: step {names} may have run: ops stopped before recording "
            f"its outcome; check what it did, then 'ops runbook resume {record.run_id} "
            "--rerun-unknown' runs it again, '--skip-unknown' goes on after it"
        )
    check_runnable(runbook, world.credential_variables)
    missing = [name for name in record.plan if runbook.step(name) is None]
    if missing:
        raise RunbookError(
            f"{runbook.source}: step(s) {', '.join(missing)} of run {record.run_id} no longer exist"
        )
    params = resolve_params(runbook, record.params, world.env, world.ui)
    _require_secrets(runbook, world.env)
    _refuse_secrets_in_plain_params(runbook, params, run_masker(runbook, world, params))
    for step in unknown:
        step.pgid = None
        _keep_earlier(step)  # what it printed before ops lost track of it stays on record
        if options.rerun_unknown:
            step.status, step.message = "pending", "outcome unknown: run again (--rerun-unknown)"
        else:
            step.status, step.message = "skipped", "outcome unknown: skipped (--skip-unknown)"
    options = replace(
        options,
        tags=_recorded(record, "tags") or options.tags,
        steps=_recorded(record, "steps") or options.steps,
    )
    record.resumed += 1
    record.status = "running"
    record.finished_at = None
    return _execute(runbook, record, params, options, world)


def _keep_earlier(state: StepRecord) -> None:
    """Before ``state``'s step runs again (a resume, a handler's second run), move its
    outcome to ``state.earlier``: a resume that succeeds must not erase the failure before
    it (its output was what the person resumed after reading)."""
    if state.started_at is None and state.status == "pending":
        return  # never started: nothing to keep
    state.earlier.append(earlier_attempt(state))
    state.exit_code = state.duration_s = state.started_at = state.finished_at = None
    state.output, state.message, state.attempts = "", "", 0


def _require_secrets(runbook: Runbook, env: Mapping[str, str]) -> None:
    missing = [name for name in runbook.secrets if not env.get(name)]
    if missing:
        raise RunbookError(
            f"{runbook.source}: secret(s) not set in the environment: {', '.join(missing)}; "
            "export them before running"
        )
    short = [name for name in runbook.secrets if too_short(env[name])]
    if short:
        line = runbook.front_matter_line.get("secrets", 1)
        raise RunbookError(
            f"{runbook.source}:{line}: secret(s) {', '.join(short)}: a secret must be at least "
            f"{MIN_SECRET_LENGTH} characters long; a shorter one cannot be masked in output"
        )


def _refuse_secrets_in_plain_params(
    runbook: Runbook, params: Mapping[str, str], mask: Masker
) -> None:
    """A param not marked secret is kept in the run state and shown: it must hold no secret."""
    for param in runbook.params:
        if not param.secret and mask(params[param.name]) != params[param.name]:
            raise RunbookError(
                f"{runbook.source}:{param.line}: param {param.name}: the value holds a secret "
                "(a value of the runbook's secrets or of ops's credentials); mark the param "
                "'secret: true' and pass it in the environment"
            )


def dry_run(runbook: Runbook, options: RunOptions, world: World) -> list[PlannedStep]:
    """What a run would do, step by step, with its environment (secrets masked); runs nothing.

    Secret params are substituted as ``***`` into the actions shown (promql queries), and
    everything shown is masked as a run's output is: a plan is printed, so it holds no secret.
    """
    params = resolve_params(runbook, options.params, world.env, None)
    hidden = set(runbook.secrets) | {p.name for p in runbook.params if p.secret}
    mask = run_masker(runbook, world, params)
    shown_params = {k: (MASK if k in hidden else v) for k, v in params.items()}
    variables = dict(params)
    planned = []
    for step in plan_steps(runbook, options):
        opts = step_options(step, runbook.source)
        ctx = _context(runbook, step, shown_params, variables, world, options, mask, "dry-run")
        would_run, reason = True, ""
        if opts.when is not None and not evaluate(opts.when, variables):
            would_run, reason = False, f"when is false: {step.attr('when')}"
        elif opts.confirm and not options.yes and not world.ui.interactive:
            would_run, reason = False, "needs confirmation (--yes)"
        shown = mask.mapping({**params, **variables}, hidden)
        shown.update({name: MASK for name in runbook.secrets})
        if opts.capture:  # the next steps get it, not the step that captures it
            variables[opts.capture] = f"<output of {step.name}>"
        action = mask(_kind(step).describe(step, ctx))
        planned.append(PlannedStep(step.name, step.kind, would_run, mask(reason), action, shown))
    return planned


def _context(
    runbook: Runbook,
    step: Step,
    params: dict[str, str],
    variables: dict[str, str],
    world: World,
    options: RunOptions,
    mask: Masker,
    run_id: str,
    on_start: Callable[[int], None] = lambda pid: None,
    ready: Callable[[], None] = lambda: None,
    take_held: Callable[[list[str], Mapping[str, str], str | None], HeldProcess | None] = (
        lambda argv, env, cwd: None
    ),
    start_next: Callable[[], int | None] = lambda: None,
) -> StepContext:
    opts = step_options(step, runbook.source)
    env = {**world.env, **variables, **params}
    env.update({"OPS_RUN_ID": run_id, "OPS_STEP": step.name, "OPS_RUNBOOK": runbook.source})
    base = os.path.dirname(os.path.abspath(runbook.source))
    cwd_attr = opts.cwd or runbook.cwd
    cwd = os.path.join(base, os.path.expanduser(cwd_attr)) if cwd_attr else None
    return StepContext(
        runbook=runbook,
        options=opts,
        env=env,
        params=params,
        variables={**params, **variables},
        cwd=cwd,
        ui=world.ui,
        interactive=world.ui.interactive,
        kill_grace=options.kill_grace,
        metrics=world.metrics,
        mask=mask,
        on_start=on_start,
        ready=ready,
        take_held=take_held,
        start_next=start_next,
        # Only a background step writes one (the path cost a step 4% of its CPU).
        background_log=str(
            world.store.runs / f"{run_id}.{re.sub(r'[^A-Za-z0-9_.-]', '_', step.name)}.log"
        )
        if opts.background
        else None,
    )


def _execute(
    runbook: Runbook, record: RunRecord, params: dict[str, str], options: RunOptions, world: World
) -> RunRecord:
    """Run the plan; whatever stops it (failure, signal, error), the run ends recorded.

    Every way out marks the run finished in the state and writes ``run_finished`` to the
    audit, so no run stays ``running`` behind a live ``ops``. An unexpected error ends the
    run failed with the error named (a step at hand fails with it); anything that is not an
    ``Exception`` (``SystemExit``) is raised again once recorded.
    """
    mask = run_masker(runbook, world, params)
    started = world.clock()
    interrupted: str | None = None
    error: BaseException | None = None
    crash: str | None = None
    audited = False
    ahead = _Ahead()
    early: list[str] = []  # steps whose shell left its gate before its turn
    try:
        world.store.save(record)
        _audit(
            world,
            record,
            runbook,
            "run_resumed" if record.resumed else "run_started",
            mask,
            {"plan": record.plan, "resumed": record.resumed},
        )
        audited = True
        by_name = {s.name: s for s in runbook.steps}  # a scan per step grew with the runbook
        for position, name in enumerate(record.plan):
            if record.steps[name].status in DONE:
                continue
            step = by_name.get(name) or runbook.step(name)  # a name, or a Runme id
            assert step is not None
            following = next(
                (n for n in record.plan[position + 1 :] if record.steps[n].status not in DONE),
                None,
            )
            after = (by_name.get(following) or runbook.step(following)) if following else None
            status = _run_step(
                runbook, step, record, params, options, world, mask, ahead=ahead, following=after
            )
            ahead.keep_only(following)  # one this step did not take: killed at its gate
            _released_early(ahead, early, record, runbook, world, mask)
            if status in MAYBE_STARTED:
                early.append(name)
            if early:
                break
            if status in FAILED:
                handler = step.attr("on_failure")
                if handler:
                    handler_step = runbook.step(handler)
                    assert handler_step is not None
                    record.steps.setdefault(
                        handler_step.name, StepRecord(handler_step.name, handler=True)
                    )
                    unselected = handler_not_selected(runbook, handler_step, options)
                    if unselected:
                        _skip_step(runbook, handler_step, record, world, mask, unselected)
                    elif (
                        _run_step(runbook, handler_step, record, params, options, world, mask)
                        in MAYBE_STARTED
                    ):
                        early.append(handler_step.name)
            if (status in FAILED or status in WAITING) and not options.keep_going:
                break
    except KeyboardInterrupt as exc:
        interrupted = f"interrupted by {exc.args[0]}" if exc.args else "interrupted"
    except Exception as exc:  # whatever went wrong, the run ends failed, never stays running
        if audited:
            crash = _crashed(record, exc, mask)
        else:  # the run could not even be recorded as started: nothing ran; say why
            error = exc
    except BaseException as exc:  # recorded below, then raised again
        error = exc
    finally:  # a background step's processes belong to the run: they end with it
        ahead.keep_only(None)  # a shell started for a step the run does not reach never runs
        stop_background(record.steps.values(), options.kill_grace)
    with contextlib.suppress(Exception):  # recorded if it can be; the run fails either way
        _released_early(ahead, early, record, runbook, world, mask)
    if early and crash is None and error is None:
        names = ", ".join(repr(name) for name in early)
        crash = mask(f"step {names}: {RELEASED_EARLY}")
    cut_short = [
        s
        for s in record.steps.values()
        if s.status in ("starting", "running") and s.name not in early
    ]
    for step_record in cut_short:
        step_record.status = "failed"
        step_record.message = mask(interrupted or crash or f"ops stopped: {error}")
        step_record.finished_at = world.clock()
        step_record.pgid = None
    failed = error is not None or crash is not None
    record.status = "failed" if failed else _run_status(record, interrupted is not None)
    record.finished_at = world.clock()
    try:
        world.audit.settle()
        world.store.save(record)
        if audited:
            for step_record in cut_short:
                _audit_step(world, record, runbook, mask, step_record)
            _audit(
                world,
                record,
                runbook,
                "run_finished",
                mask,
                {
                    "status": record.status,
                    "duration_s": round(record.finished_at - started, 3),
                    **({"error": crash} if crash else {}),
                },
            )
    except Exception:
        if error is None and crash is None:
            raise
    if error is not None:
        raise error
    if crash is not None:
        with contextlib.suppress(OSError):  # the terminal itself may be what broke
            world.ui.note(f"run {record.run_id} failed: {crash}")
    return record


def _crashed(record: RunRecord, exc: Exception, mask: Masker) -> str:
    """An unexpected error mid-run: the step at hand fails with it, and the run with the step."""
    if isinstance(exc, OpsError):
        detail = mask(str(exc))
    else:
        detail = mask(f"unexpected error: {type(exc).__name__}: {exc}")
    at_hand = [s for s in record.steps.values() if s.status in ("starting", "running")] or [
        s for s in record.steps.values() if s.status == "pending"
    ][:1]
    for step_record in at_hand:
        step_record.status, step_record.message, step_record.pgid = "failed", detail, None
    return detail


def capture_output(attempt: Attempt, name: str, variables: dict[str, str], mask: Masker) -> Attempt:
    """Keep a step's stdout as variable ``name``, unless the OS could not pass it to a step."""
    value = mask(attempt.stdout.strip())
    refused = os_refuses(name, value)
    if refused:
        message = f"capture {name}: the output {refused}, so it cannot be passed to later steps"
        return Attempt("failed", attempt.exit_code, attempt.output, attempt.stdout, message)
    variables[name] = value
    return attempt


def handler_not_selected(runbook: Runbook, handler: Step, options: RunOptions) -> str | None:
    """Why an ``on_failure`` handler outside ``--tag``/``--step`` must not run, else None.

    A selection is a promise about what runs: ``--tag diagnose`` (what ``ops serve`` runs
    unattended for an alert) runs only read-only diagnose steps, so a failed diagnose
    step's mitigation handler stays for a person to run.
    """
    if options.steps and handler not in [runbook.step(name) for name in options.steps]:
        chosen = " ".join(f"--step {name}" for name in options.steps)
        return f"on_failure handler {handler.name!r} not selected ({chosen})"
    if options.tags and not set(handler.tags) & set(options.tags):
        chosen = " ".join(f"--tag {tag}" for tag in options.tags)
        return f"on_failure handler {handler.name!r} not selected ({chosen})"
    return None


def _skip_step(
    runbook: Runbook, step: Step, record: RunRecord, world: World, mask: Masker, reason: str
) -> None:
    """Record ``step`` as skipped for ``reason`` without running it: state, audit, screen."""
    state = record.steps[step.name]
    state.started_at = state.finished_at = world.clock()
    state.status, state.message, state.duration_s = "skipped", mask(reason), 0.0
    world.store.record_step(record, state)
    _audit_step(world, record, runbook, mask, state, sync_later=True)
    world.ui.step_finished(step, state.status, state.message, state.duration_s)


def _recorded(record: RunRecord, key: str) -> tuple[str, ...]:
    """The ``--tag``/``--step`` selection (``key``) a run started with, for its resume: a
    resumed ``--tag diagnose`` run still leaves other handlers alone."""
    value = record.options.get(key)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return ()


def _run_status(record: RunRecord, interrupted: bool) -> str:
    statuses = [s.status for s in record.steps.values() if not s.handler]
    if any(s in FAILED for s in statuses) and not interrupted:
        return "failed"
    if not interrupted and any(s in WAITING for s in statuses):
        return "waiting"  # for a person (a manual step, a confirmation): resume on a terminal
    if interrupted or any(s not in DONE for s in statuses):
        return "aborted"
    return "succeeded"


def _run_step(
    runbook: Runbook,
    step: Step,
    record: RunRecord,
    params: dict[str, str],
    options: RunOptions,
    world: World,
    mask: Masker,
    *,
    ahead: _Ahead | None = None,
    following: Step | None = None,
) -> str:
    """Run ``step`` and record it; ``following``'s shell is started ahead (``_Ahead``):
    while this step's shell runs, if this step cannot change what it gets, else once this
    step has succeeded, before its records are written."""
    state = record.steps[step.name]
    _keep_earlier(state)
    on_disk = False

    def start_next() -> int | None:
        """The next step's shell, started held while this step's runs (the kind calls this
        only for a script that cannot export); its pid, or None."""
        if ahead is None or following is None or ctx.options.capture:
            return None
        _start_ahead(ahead, runbook, following, record, params, options, world, mask)
        if ahead.step != following.name or ahead.held is None:
            return None
        return ahead.held.process.pid

    def on_start(pid: int) -> None:
        state.status, state.pgid, state.leader_start = "running", pid, leader_start(pid)
        world.store.record_step(record, state)  # not synced: see StateStore.record_step

    def ready() -> None:
        """The step's "starting" record (and "running", if written) on disk, and the last
        step's audit line, synced meanwhile: so if ops or the host dies now, resume knows
        the step may have run. Nothing of the step acts before this returns."""
        nonlocal on_disk
        if not on_disk:
            world.store.settle(record)
            world.audit.settle()
            on_disk = True

    ctx = _context(
        runbook,
        step,
        params,
        record.variables,
        world,
        options,
        mask,
        record.run_id,
        on_start,
        ready,
        ahead.take_for(step.name) if ahead is not None else lambda argv, env, cwd: None,
        start_next,
    )
    opts = ctx.options
    attempt: Attempt | None = None
    if opts.when is not None and not evaluate(opts.when, ctx.variables):
        attempt = Attempt("skipped", None, "", message=f"when is false: {step.attr('when')}")
    elif opts.confirm and not options.yes and not (step.kind == "manual" and world.ui.interactive):
        # A manual step's own question (done or skip, below its text with the params filled
        # in) is its confirmation: asking "Run step?" first, over the raw text, asked twice.
        if not world.ui.interactive:
            attempt = Attempt(
                "needs_confirmation",
                None,
                "",
                message="needs confirmation: run on a terminal or pass --yes",
            )
        elif not world.ui.confirm(step, f"Run step {step.name!r}?"):
            attempt = Attempt("skipped", None, "", message="declined by the operator")
    state.started_at = world.clock()  # after any question: the duration is the step's own
    captured: dict[str, str] | None = None
    if attempt is None:
        # Written now and synced meanwhile; on disk before the step can act (``ready``,
        # called by the step's kind while its shell starts up, or by ops before ``run``).
        state.status, state.pgid = "starting", None
        world.store.record_step(record, state, sync_later=True)
        try:
            attempt = _attempts(step, ctx, opts.retries + 1, opts.retry_delay, world, state)
        except ReleasedEarly as released:
            _record_released_early(runbook, record, state, world, mask, released.output)
            world.ui.step_finished(step, "unknown", state.message, 0.0)
            return state.status
        if attempt.status == "succeeded" and opts.capture:
            attempt = capture_output(attempt, opts.capture, record.variables, mask)
            if opts.capture in record.variables:
                captured = {opts.capture: record.variables[opts.capture]}
        if attempt.status == "succeeded" and attempt.exports:  # `export X=1` reaches later steps
            exported = {k: mask(v) for k, v in attempt.exports.items()}
            record.variables.update(exported)
            captured = {**(captured or {}), **exported}
    if ahead is not None and following is not None and attempt.status == "succeeded":
        _start_ahead(ahead, runbook, following, record, params, options, world, mask)
    finished = world.clock()
    state.status = attempt.status
    state.exit_code = attempt.exit_code
    state.output = mask(attempt.output)
    state.message = mask(attempt.message)
    state.finished_at = finished
    state.duration_s = round(finished - state.started_at, 3)
    state.pgid = attempt.background  # a background step's group lives until the run ends
    state.leader_start = state.leader_start if attempt.background else None
    # Not synced: lost in a power loss, the step reads as unknown (resume asks).
    world.store.record_step(record, state, variables=captured)
    # Recorded before it is shown; synced to disk while the next step's record is.
    _audit_step(world, record, runbook, mask, state, sync_later=True)
    world.ui.step_finished(step, attempt.status, state.message, state.duration_s)
    return attempt.status


def _released_early(
    ahead: _Ahead,
    early: list[str],
    record: RunRecord,
    runbook: Runbook,
    world: World,
    mask: Masker,
) -> None:
    """Record each step whose held shell ops found let go when it discarded it (the step may
    have run, though its turn never came: ``RELEASED_EARLY``), and add it to ``early``."""
    found, ahead.released_early = ahead.released_early, []
    for name, output in found:
        early.append(name)
        if name in record.steps:
            _record_released_early(runbook, record, record.steps[name], world, mask, output)


def _record_released_early(
    runbook: Runbook,
    record: RunRecord,
    state: StepRecord,
    world: World,
    mask: Masker,
    output: str = "",
) -> None:
    """``state``'s shell left its gate before its turn: record it as maybe started, with
    what it printed, and audit it (``step_released_early``)."""
    state.status, state.message = "starting", RELEASED_EARLY
    state.output, state.exit_code = mask(output), None
    state.finished_at, state.duration_s = world.clock(), None
    state.pgid = state.leader_start = None
    world.store.record_step(record, state)
    _audit(
        world,
        record,
        runbook,
        "step_released_early",
        mask,
        {
            "step": state.name,
            "status": "unknown",
            "message": state.message,
            "output_sha256": hashlib.sha256(state.output.encode()).hexdigest(),
        },
    )


class _Ahead:
    """The next step's shell, started held at its gate before the step before it is over.

    While a shell step runs, if it cannot change the next step's environment or ``when``
    (no ``capture``, a script that cannot export), ops starts the next step's shell; else
    once the step has succeeded, before it writes the step's journal and audit lines and
    shows its result. The fork, the exec and the shell's start-up (about half a bare
    ``bash -c true``) then overlap the step before instead of following it (issue 15,
    bench/step_overhead.py).

    Nothing of it runs before its own turn: it is let go from its gate only once its
    ``starting`` record and the audit line before it are on disk, as any shell step is. It
    is started only for a step that will then run with nothing asked (``when`` true, no
    confirmation; ``ShellKind.start_held``), and its turn takes it only if it is the very
    process the step would start then (``HeldProcess.matches``). Any other (the run stopped
    or failed before that turn, or something changed) is killed at its gate and never runs
    a command; if ops itself is killed, the gate's pipe ends unwritten and the shell exits.
    Held meanwhile, it is no other step's: a handler that runs after a failed step takes
    it, like every child ops had when the handler started, for not its own.
    """

    def __init__(self) -> None:
        self.step: str | None = None
        self.held: HeldProcess | None = None
        # Steps whose held shell was found let go (or ended) when it was discarded: they
        # may have run, and must be recorded so (``_released_early``).
        self.released_early: list[tuple[str, str]] = []  # and what each printed

    def start(self, step: str, held: HeldProcess | None) -> None:
        self.keep_only(None)
        self.step, self.held = step, held

    def take_for(
        self, step: str
    ) -> Callable[[list[str], Mapping[str, str], str | None], HeldProcess | None]:
        """``StepContext.take_held`` for ``step``."""

        def take(argv: list[str], env: Mapping[str, str], cwd: str | None) -> HeldProcess | None:
            if self.step != step or self.held is None:
                return None
            held, self.step, self.held = self.held, None, None
            if held.matches(argv, env, cwd):
                return held
            if not held.discard():
                raise ReleasedEarly(
                    f"process {held.process.pid} left its gate before its turn",
                    output=held.output,
                )
            return None

        return take

    def keep_only(self, step: str | None) -> None:
        """Kill at its gate a shell held for any step but ``step``."""
        if self.held is not None and self.step != step:
            held, name, self.step, self.held = self.held, self.step, None, None
            if not held.discard() and name is not None:
                self.released_early.append((name, held.output))


def _start_ahead(
    ahead: _Ahead,
    runbook: Runbook,
    step: Step,
    record: RunRecord,
    params: dict[str, str],
    options: RunOptions,
    world: World,
    mask: Masker,
) -> None:
    """Start ``step``'s shell held (``_Ahead``) if its turn will surely start it unasked,
    unless it is held already."""
    kind = kind_for(step)
    if not isinstance(kind, ShellKind) or (ahead.step == step.name and ahead.held is not None):
        return
    try:
        ctx = _context(runbook, step, params, record.variables, world, options, mask, record.run_id)
        opts = ctx.options
        if (opts.confirm and not options.yes) or (
            opts.when is not None and not evaluate(opts.when, ctx.variables)
        ):
            return
    except OpsError:
        return  # the step's own turn meets it again, and reports it as the step's
    ahead.start(step.name, kind.start_held(step, ctx))


def _audit_step(
    world: World,
    record: RunRecord,
    runbook: Runbook,
    mask: Masker,
    state: StepRecord,
    *,
    sync_later: bool = False,
) -> None:
    _audit(
        world,
        record,
        runbook,
        "step_finished",
        mask,
        {
            "step": state.name,
            "status": state.status,
            "exit_code": state.exit_code,
            "duration_s": state.duration_s,
            "attempts": state.attempts,
            "output_sha256": hashlib.sha256(state.output.encode()).hexdigest(),
        },
        sync_later=sync_later,
    )


def _kind(step: Step) -> StepKind:
    kind = kind_for(step)
    assert kind is not None, "plan_steps leaves out the steps ops cannot run"
    return kind


def _attempts(
    step: Step, ctx: StepContext, attempts: int, delay: float, world: World, state: StepRecord
) -> Attempt:
    kind = _kind(step)
    result = Attempt("failed", None, "")
    for number in range(1, attempts + 1):
        state.attempts = number
        world.ui.step_started(step, number, attempts)
        if not kind.readies_itself:
            ctx.ready()
        result = kind.run(step, ctx)
        if result.status not in FAILED:
            return result
        if number < attempts:
            world.ui.note(
                f"{step.name}: {result.message}; retrying in {format_duration(delay)} "
                f"(attempt {number + 1} of {attempts})"
            )
            world.sleep(delay)
    return result


def _audit(
    world: World,
    record: RunRecord,
    runbook: Runbook,
    event: str,
    mask: Masker,
    extra: dict[str, Any],
    *,
    sync_later: bool = False,
) -> None:
    entry: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world.clock())),
        "event": event,
        "run_id": record.run_id,
        "user": record.user,
        "host": record.host,
        "runbook": runbook.source,
        "runbook_sha256": runbook.sha256,
        "params": mask.mapping(record.params, ()),
    }
    entry.update(extra)
    world.audit.append(entry, sync_later=sync_later)


def run_document(record: RunRecord) -> dict[str, Any]:
    """The ``--json`` document of a run."""
    steps = []
    planned = set(record.plan)
    order = [*record.plan, *(n for n in record.steps if n not in planned)]
    for name in order:
        step = record.steps[name]
        status, message = _shown_status(step.status, step.message)
        steps.append(
            {
                "name": name,
                "status": status,
                "exit_code": step.exit_code,
                "duration_s": step.duration_s,
                "output": step.output,
                "attempts": step.attempts,
                "message": message,
                "handler": step.handler,
                "started_at": _iso(step.started_at) if step.started_at else None,
                "finished_at": _iso(step.finished_at) if step.finished_at else None,
                "earlier": [_earlier_document(earlier) for earlier in step.earlier],
            }
        )
    return {
        "run_id": record.run_id,
        "runbook": record.runbook,
        "status": record.status,
        "user": record.user,
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at) if record.finished_at else None,
        "params": record.params,
        "steps": steps,
    }


def _shown_status(status: str, message: str) -> tuple[str, str]:
    """A step's status and message as a run's document shows them."""
    if status == "pending":
        return "skipped", message or "not reached"
    if status in MAYBE_STARTED:  # ops stopped before recording its outcome
        return "unknown", message or "may have run: its outcome was not recorded"
    return status, message


def _earlier_document(earlier: Mapping[str, Any]) -> dict[str, Any]:
    """An earlier outcome of a step (``StepRecord.earlier``) as the run's document shows it."""
    status, message = _shown_status(earlier["status"], earlier.get("message", ""))
    started, finished = earlier.get("started_at"), earlier.get("finished_at")
    return {
        "status": status,
        "exit_code": earlier.get("exit_code"),
        "duration_s": earlier.get("duration_s"),
        "output": earlier.get("output", ""),
        "attempts": earlier.get("attempts", 0),
        "message": message,
        "started_at": _iso(started) if started else None,
        "finished_at": _iso(finished) if finished else None,
    }


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
