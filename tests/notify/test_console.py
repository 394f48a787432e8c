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
