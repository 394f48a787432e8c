"""``python -m ops_toolkit`` is the ``ops`` command."""

from ops_toolkit.cli import run

run()
