"""Tables that stay readable at any terminal width: fewer columns, never squeezed ones.

rich shrinks every column to an ellipsis when a table is wider than the terminal, which
turns numbers and run ids into ``…``. Instead a command names its columns in display order
and the ones it can give up first; ``fit_table`` drops them until the table fits, and
``-o wide`` shows them all (kubectl's habit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click


def fit_table(
    build: Callable[[Sequence[str]], Any],
    columns: Sequence[str],
    drop_order: Sequence[str],
    *,
    console: Any,
    wide: bool = False,
    spare: int = 0,
) -> tuple[Any, list[str]]:
    """The table built with as many of ``columns`` as fit ``console.width``, and the hidden ones.

    ``drop_order`` lists droppable columns, first given up first; the others always stay. A
    table fits when its widest rendering does, or, for tables with wrapping columns (a
    title), when its narrowest one leaves ``spare`` columns for them to wrap in.
    """
    from rich.measure import Measurement

    shown = list(columns)
    hidden: list[str] = []
    table = build(shown)
    if wide:
        return table, hidden
    unbounded = console.options.update_width(100_000)
    for column in drop_order:
        measured = Measurement.get(console, unbounded, table)
        if measured.maximum <= console.width or (
            spare and measured.minimum + spare <= console.width
        ):
            break
        shown.remove(column)
        hidden.append(column)
        table = build(shown)
    return table, hidden


def print_fitted(
    build: Callable[[Sequence[str]], Any],
    columns: Sequence[str],
    drop_order: Sequence[str],
    *,
    wide: bool,
    console: Any | None = None,
    spare: int = 0,
) -> None:
    """Print the fitted table; name on stderr what a narrow terminal hid, and how to see it."""
    if console is None:
        from rich.console import Console

        console = Console()
    table, hidden = fit_table(build, columns, drop_order, console=console, wide=wide, spare=spare)
    if wide:  # every column at its natural width, wider than the terminal if need be (kubectl)
        from rich.measure import Measurement

        natural = Measurement.get(console, console.options.update_width(100_000), table)
        console.width = max(console.width, natural.maximum)
    print_trimmed(table, console)
    if hidden:
        click.echo(
            f"({console.width} columns: {', '.join(hidden)} not shown; -o wide shows all)",
            err=True,
        )


def print_trimmed(renderable: Any, console: Any | None = None) -> None:
    """Print through rich without the spaces it pads lines with (titles to the table's
    width), so output pasted into a ticket or compared in a test holds only what is seen."""
    if console is None:
        from rich.console import Console

        console = Console()
    with console.capture() as captured:
        console.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))
