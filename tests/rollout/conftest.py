"""Fixtures of the rollout tests: a project whose plan runs a real runbook."""

from __future__ import annotations

from pathlib import Path

import pytest

OPEN = """---
owner: team-search
params:
  STAGE: {required: true, pattern: "^[a-z-]+$"}
---
# Open a stage

```sh {"name":"write-access"}
echo "stage=$STAGE" >> access.conf
```

```sh {"name":"reload"}
test -e reload-ok
```

```sh {"name":"announce","confirm":"true"}
echo "announced $STAGE" >> announced.txt
```
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plan of two stages without checks (nothing to ask Prometheus), one runbook whose
    'reload' fails until ``reload-ok`` exists, and 'announce' a confirm step."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "open.md").write_text(OPEN)
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "rollouts" / "p3.yaml").write_text(
        "version: ops/v1\nkind: Rollout\nservice: search\nstages:\n"
        "  - name: pilot\n    runbook: {name: open, params: {STAGE: pilot}}\n"
        "    rollback: {name: open, params: {STAGE: closed}}\n"
        "  - name: department\n    runbook: {name: open, params: {STAGE: department}}\n"
        "    rollback: {name: open, params: {STAGE: pilot}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    return tmp_path
