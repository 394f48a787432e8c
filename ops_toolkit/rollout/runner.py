"""The stage runner: a plan's runbooks run through the ordinary runbook runner and state store.

A run id the state store already holds is resumed, never started again, which is what lets
an advance interrupted by a crash continue where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops_toolkit.rollout.advance import RunOutcome
from ops_toolkit.rollout.plan import RunbookCall
from ops_toolkit.runbook.execute import RunOptions, World, new_run_id, resume_run, start_run


@dataclass(frozen=True)
class RunbookStageRunner:
    world: World
    directory: str
    yes: bool = False

    def new_run_id(self, now: float) -> str:
        return new_run_id(now)

    def run(self, call: RunbookCall, run_id: str) -> RunOutcome:
        from ops_toolkit.runbook.catalog import load_runbook

        loaded = load_runbook(call.name, self.directory)
        if (self.world.store.runs / f"{run_id}.json").is_file():
            record = self.world.store.load(run_id)
            if record.status == "succeeded":
                return RunOutcome(run_id, record.status, loaded.source)
            record = resume_run(record, loaded, RunOptions(yes=self.yes), self.world)
        else:
            options = RunOptions(params=dict(call.params), yes=self.yes, run_id=run_id)
            record = start_run(loaded, options, self.world)
        return RunOutcome(record.run_id, record.status, loaded.source)
