"""The stage runner: a plan's runbooks run through the ordinary runbook runner and state store.

A run id the state store already holds is resumed, never started again, which is what lets
an advance interrupted by a crash continue where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ops_toolkit.rollout.advance import RunOutcome
from ops_toolkit.rollout.plan import RunbookCall
from ops_toolkit.runbook.execute import RunOptions, World, new_run_id, resume_run, start_run


@dataclass(frozen=True)
class RunbookStageRunner:
    world: World
    directory: str
    yes: bool = False
    rerun_unknown: bool = False
    skip_unknown: bool = False
    allow_changed: bool = False
    stopped_by: list[int] = field(default_factory=list)
    """The signals that stopped a run (SIGTERM, SIGHUP, Ctrl-C), so the command can exit
    128 + the first, as ``ops runbook run`` does."""

    def new_run_id(self, now: float) -> str:
        return new_run_id(now)

    def run(self, call: RunbookCall, run_id: str) -> RunOutcome:
        from ops_toolkit.runbook.catalog import load_runbook
        from ops_toolkit.runbook.process import signals_interrupt

        loaded = load_runbook(call.name, self.directory)
        if (self.world.store.runs / f"{run_id}.json").is_file():
            record = self.world.store.load(run_id)
            if record.status == "succeeded":
                return RunOutcome(run_id, record.status, loaded.source)
            with signals_interrupt() as received:  # SIGTERM/SIGHUP: the run ends aborted
                options = RunOptions(
                    yes=self.yes,
                    rerun_unknown=self.rerun_unknown,
                    skip_unknown=self.skip_unknown,
                    allow_changed=self.allow_changed,
                )
                record = resume_run(record, loaded, options, self.world)
        else:
            options = RunOptions(params=dict(call.params), yes=self.yes, run_id=run_id)
            with signals_interrupt() as received:
                record = start_run(loaded, options, self.world)
        self.stopped_by.extend(received)
        return RunOutcome(record.run_id, record.status, loaded.source)
