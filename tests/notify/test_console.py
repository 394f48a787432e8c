"""The console notifier (the embedded default): hostile text stays inert on a terminal,
a damaged line in its file never hides the messages after it, and IO failures are
``NotifyError`` so delivery retries them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ops_toolkit.errors import NotifyError
from ops_toolkit.notify.console import ConsoleNotifier


def test_control_characters_in_alert_text_never_reach_the_terminal(tmp_path: Path) -> None:
    stream = io.StringIO()
    notifier = ConsoleNotifier(str(tmp_path / "m.jsonl"), stream)
    hostile = "X \x1b]0;pwned\x07\x1b[2J\rfake line\nsecond"
    notifier.post("#alerts", {"text": hostile, "blocks": []}, 1, None)
    assert stream.getvalue() == (
        "[#alerts] post: X \\x1b]0;pwned\\x07\\x1b[2J\\x0dfake line\nsecond\n"
    )
    (record,) = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert record["message"]["text"] == hostile  # the file keeps the message as it was


def test_a_damaged_line_does_not_hide_the_posts_after_it(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    notifier = ConsoleNotifier(str(path), io.StringIO())
    notifier.post("#alerts", {"text": "one", "blocks": []}, 1, None)
    with open(path, "a") as handle:
        handle.write('{"action": "post", "chan')  # a crash in the middle of a write
        handle.write("\n")
    channel, ts = notifier.post("#alerts", {"text": "two", "blocks": []}, 2, None)
    assert notifier.find("#alerts", 2, None) == (channel, ts)


def test_a_file_that_cannot_be_written_is_a_notify_error(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").mkdir()  # a directory where the file should be
    notifier = ConsoleNotifier(str(tmp_path / "m.jsonl"), io.StringIO())
    with pytest.raises(NotifyError) as raised:
        notifier.post("#alerts", {"text": "one", "blocks": []}, 1, None)
    assert str(raised.value) == (
        f"console notifier: cannot write {tmp_path / 'm.jsonl'}: Is a directory"
    )


def test_a_closed_terminal_does_not_fail_a_post_already_recorded(tmp_path: Path) -> None:
    stream = io.StringIO()
    stream.close()
    notifier = ConsoleNotifier(str(tmp_path / "m.jsonl"), stream)
    channel, ts = notifier.post("#alerts", {"text": "one", "blocks": []}, 7, None)
    assert notifier.find("#alerts", 7, None) == (channel, ts)


def test_an_upload_copy_replaces_a_link_planted_at_its_name(tmp_path: Path) -> None:
    """The copy's name is predictable (``<seconds>-<file name>`` beside the messages): a
    link planted there made ``open(..., "wb")`` overwrite whatever it pointed to."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    victim.chmod(0o600)
    planted = tmp_path / "1796040000-burndown.png"
    planted.symlink_to(victim)
    notifier = ConsoleNotifier(str(tmp_path / "m.jsonl"), io.StringIO(), clock=lambda: 1796040000.2)
    channel, target = notifier.upload("#search", None, "burndown.png", b"\x89PNG chart", "Budgets")
    assert (channel, target) == ("#search", str(planted))
    assert victim.read_text() == "keep me\n"
    assert oct(victim.stat().st_mode & 0o777) == "0o600"
    assert not planted.is_symlink()
    assert planted.read_bytes() == b"\x89PNG chart"


def test_an_upload_copy_that_cannot_be_written_is_a_notify_error(tmp_path: Path) -> None:
    (tmp_path / "1796040000-burndown.png").mkdir()  # a folder where the copy should be
    notifier = ConsoleNotifier(str(tmp_path / "m.jsonl"), io.StringIO(), clock=lambda: 1796040000)
    with pytest.raises(NotifyError) as raised:
        notifier.upload("#search", None, "burndown.png", b"\x89PNG chart", "Budgets")
    assert str(raised.value) == (
        f"console notifier: cannot write {tmp_path / '1796040000-burndown.png'}: Is a directory"
    )
