"""Store methods that two ``ops serve`` replicas call at the same moment act once.

Each replica reads, decides, then writes; the store's write must notice when another
replica's write came in between, or both replicas' messages go out.
"""

from __future__ import annotations

from pathlib import Path

from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store import Store


def notice(replica: str) -> Planned:
    return Planned(f"policy:search/availability:50:{replica}", "#ops", "post", {"text": replica})


def test_a_policy_threshold_crossed_by_two_replicas_at_once_notifies_once(
    tmp_path: Path,
) -> None:
    first = Store(str(tmp_path / "state.db"))
    second = Store(str(tmp_path / "state.db"))
    # Both replicas evaluated the SLO and read the threshold still armed...
    assert first.policy_armed("search/availability", [50.0]) == {50.0: True}
    assert second.policy_armed("search/availability", [50.0]) == {50.0: True}
    # ...then each disarms it with its notice: only the first write is a crossing.
    first.policy_update("search/availability", {50.0: False}, [notice("first")], 100.0)
    second.policy_update("search/availability", {50.0: False}, [notice("second")], 100.5)
    assert [e.message["text"] for e in first.entries()] == ["first"]
    assert first.policy_armed("search/availability", [50.0]) == {50.0: False}


def test_a_policy_crossing_after_re_arming_notifies_again(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "state.db"))
    store.policy_update("search/availability", {50.0: False}, [notice("down")], 100.0)
    store.policy_update("search/availability", {50.0: True}, [], 200.0)  # recovered
    store.policy_update("search/availability", {50.0: False}, [notice("down again")], 300.0)
    assert [e.message["text"] for e in store.entries()] == ["down again", "down"]
