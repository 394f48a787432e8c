"""The SLO report as one self-contained HTML page: table, bars, burn-down charts as inline SVG.

No external resources (no scripts, styles or images fetched from elsewhere), so it can be
mailed or published as a single file.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

from ops_toolkit.formatting import burn, percent
from ops_toolkit.slo.burndown import BurnDown
from ops_toolkit.slo.evaluate import SLOStatus
from ops_toolkit.slo.report import TABLE_BURN_WINDOWS, corrected_note, rfc3339, sort_worst_first

COLOURS = {
    "exhausted": "#b91c1c",
    "critical": "#dc2626",
    "warning": "#d97706",
    "error": "#7c3aed",
    "no_data": "#6b7280",
    "ok": "#16a34a",
}
# Corrected spans (maintenance windows) are shaded in this colour on every chart.
CORRECTED_COLOUR = "#dbeafe"
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#111}
table{border-collapse:collapse;width:100%}th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.n,td.b{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.b{text-align:left}.bar{background:#eee;width:120px;height:10px;display:inline-block}
.bar span{display:block;height:10px}.status{font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0}figcaption{font-size:.85rem;color:#444}
"""


def svg_burndown(chart: BurnDown, width: int = 360, height: int = 160) -> str:
    """Remaining budget against time, the ideal straight line dashed, in the status colour."""
    pad = 24
    low = min(0.0, *(r for _, r in chart.points))
    span_t = max(1.0, chart.end - chart.start)

    def x(t: float) -> float:
        return pad + (t - chart.start) / span_t * (width - 2 * pad)

    def y(r: float) -> float:
        return pad + (1.0 - r) / (1.0 - low) * (height - 2 * pad)

    line = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r in chart.points)
    colour = COLOURS.get(chart.status, "#111")
    shaded = "".join(
        f'<rect class=corrected x="{x(begin):.1f}" y="{pad}" '
        f'width="{max(1.0, x(end) - x(begin)):.1f}" height="{height - 2 * pad}" '
        f'fill="{CORRECTED_COLOUR}"><title>correction: events not counted</title></rect>'
        for begin, end in chart.corrected
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="budget burn-down of {html.escape(chart.key)}">'
        f'<rect width="{width}" height="{height}" fill="#fafafa"/>{shaded}'
        f'<line x1="{x(chart.start):.1f}" y1="{y(0):.1f}" x2="{x(chart.end):.1f}" y2="{y(0):.1f}" stroke="#999"/>'
        f'<line x1="{x(chart.start):.1f}" y1="{y(1):.1f}" x2="{x(chart.end):.1f}" y2="{y(0):.1f}" '
        f'stroke="#999" stroke-dasharray="4 3"/>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>'
        f'<text x="{pad}" y="14" font-size="11">100%</text>'
        f'<text x="{pad}" y="{y(0) - 3:.1f}" font-size="11">0%</text></svg>'
    )


def render_html(
    statuses: Sequence[SLOStatus],
    charts: Sequence[BurnDown] = (),
    runbook_base_url: str | None = None,
) -> str:
    """One self-contained page. Runbooks link under ``runbook_base_url``; without it their
    paths are text, since a path is relative to nothing once the page is saved or mailed."""
    from ops_toolkit.links import runbook_url

    at = rfc3339(statuses[0].at) if statuses else ""
    rows = []
    for status in sort_worst_first(statuses):
        rates = status.burn_rates()
        remaining = status.budget_remaining
        width = 0 if remaining is None else max(0, min(100, round(remaining * 100)))
        colour = COLOURS.get(status.status, "#111")
        path = status.slo.runbook or ""
        url = runbook_url(path, runbook_base_url) if path else None
        runbook = (
            f'<a href="{html.escape(url)}">{html.escape(path)}</a>' if url else html.escape(path)
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(status.slo.service)}</td><td>{html.escape(status.slo.name)}</td>"
            f"<td class=n>{status.slo.objective:g}% / {html.escape(status.slo.window.describe())}</td>"
            f"<td class=n>{percent(status.sli, 3)}</td>"
            f'<td class=b><span class=bar><span style="width:{width}%;background:{colour}"></span></span> '
            f"{percent(remaining)}</td>"
            + "".join(f"<td class=n>{burn(rates.get(w))}</td>" for w in TABLE_BURN_WINDOWS)
            + f'<td class=status style="color:{colour}">{status.status}</td>'
            f"<td>{runbook}</td></tr>"
        )
    corrections = "".join(
        f"<li><b>{html.escape(status.slo.key)}</b>: {html.escape(note)}<ul>"
        + "".join(
            f"<li>{rfc3339(span.start.timestamp())} to {rfc3339(span.end.timestamp())}: "
            f"{html.escape(span.reason)}</li>"
            for span in status.corrected
        )
        + "</ul></li>"
        for status in sort_worst_first(statuses)
        if (note := corrected_note(status)) is not None
    )
    figures = "".join(
        f"<figure>{svg_burndown(c)}<figcaption>{html.escape(c.key)}: {c.status}</figcaption></figure>"
        for c in charts
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>SLO error budgets at {at}</title><style>{STYLE}</style></head><body>"
        f"<h1>SLO error budgets</h1><p>Evaluated at {at}.</p>"
        "<table><thead><tr><th>service</th><th>SLO</th><th>objective</th><th>SLI</th>"
        "<th>budget left</th><th>burn 1h</th><th>6h</th><th>1d</th><th>3d</th><th>status</th>"
        f"<th>runbook</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (
            "<h2>Corrections</h2><p>Events inside these windows count neither good nor bad.</p>"
            f"<ul class=corrections>{corrections}</ul>"
            if corrections
            else ""
        )
        + (f"<h2>Budget burn-down</h2><div class=charts>{figures}</div>" if figures else "")
        + "</body></html>\n"
    )


def render_png(charts: Sequence[BurnDown], width_px: int = 1200, height_px: int = 600) -> bytes:
    """The burn-down charts as one PNG (matplotlib, from the optional 'charts' extra)."""
    try:
        import matplotlib
    except ImportError:
        from ops_toolkit.errors import ConfigError

        raise ConfigError("--chart needs matplotlib: pip install 'ops-toolkit[charts]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    figure, axes = plt.subplots(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)

    def when(*moments: float) -> list[float]:
        # matplotlib's date numbers: days since 1970-01-01 (its default epoch)
        return [m / 86400.0 for m in moments]

    styles = ("-", "-.", ":", (0, (5, 1)))
    seen: dict[str, int] = {}
    for chart in charts:
        number = seen.get(chart.status, 0)
        seen[chart.status] = number + 1
        axes.plot(
            when(*(t for t, _ in chart.points)),
            [r * 100 for _, r in chart.points],
            label=f"{chart.key} ({chart.status})",
            color=COLOURS.get(chart.status),
            linestyle=styles[number % len(styles)],
            linewidth=2.5 if number == 0 else 1.8,
        )
    shaded = False
    for chart in charts:
        for begin, end in chart.corrected:
            axes.axvspan(
                *when(begin, end),
                color=CORRECTED_COLOUR,
                alpha=0.8,
                label=None if shaded else "correction (not counted)",
                zorder=0,
            )
            shaded = True
    if charts:
        axes.plot(
            when(charts[0].start, charts[0].end),
            [100, 0],
            linestyle="--",
            color="#999",
            label="ideal (even spend)",
        )
    axes.xaxis_date()
    axes.axhline(0, color="#666", linewidth=1)
    axes.set_ylabel("error budget remaining (%)")
    axes.set_title("Error budget burn-down")
    axes.legend(loc="lower left", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()
