"""Corrections in the query plan, the report's text and the charts (pure parts)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.notify.report import slo_line
from ops_toolkit.slo.budget import Counts
from ops_toolkit.slo.burndown import BurnDown
from ops_toolkit.slo.corrections import Correction
from ops_toolkit.slo.evaluate import CorrectedSpan, from_ratios, pinned_count_queries, query_plan
from ops_toolkit.slo.html import CORRECTED_COLOUR, render_html, render_png, svg_burndown
from ops_toolkit.slo.report import gate_verdict, markdown, status_document
from ops_toolkit.slo.spec import parse_slo_file

AT = 1794819600  # 2026-11-16T09:00:00Z
DAY = 86400

FILE = """version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    sli:
      ratio:
        bad: http_requests_total{code=~"5..",path="/a[1h]"}
        total: http_requests_total
  - name: raw
    objective: 99
    sli:
      raw:
        bad_query: sum(rate(errors_total[{{window}}])) * 60
        total_query: sum(increase(requests_total[{{window}}:1m] offset 1m))
  - name: latency
    objective: 99
    sli:
      latency: {histogram: http_request_duration_seconds, selector: '{job="a"}', below: 1}
"""


def slos(*corrections: Correction) -> list:  # type: ignore[type-arg]
    import dataclasses

    return [
        dataclasses.replace(s, corrections=corrections) for s in parse_slo_file(FILE, "f.yaml").slos
    ]


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def test_pinned_queries_for_each_sli_kind() -> None:
    ratio, raw, latency = slos()
    end = AT - DAY
    assert pinned_count_queries(ratio, 5400, end) == (
        "bad",
        f'sum(increase(http_requests_total{{code=~"5..",path="/a[1h]"}}[1h30m] @ {end}))',
        f"sum(increase(http_requests_total[1h30m] @ {end}))",
    )
    assert pinned_count_queries(raw, 3600, end + 0.5) == (
        "bad",
        f"sum(sum(rate(errors_total[1h] @ {end}.5)) * 60)",
        f"sum(sum(increase(requests_total[1h:1m] @ {end}.5 offset 1m)))",
    )
    assert pinned_count_queries(latency, 600, end) == (
        "good",
        f'sum(increase(http_request_duration_seconds_bucket{{job="a",le=~"1|1[.]0"}}[10m] @ {end}))',
        f'sum(increase(http_request_duration_seconds_count{{job="a"}}[10m] @ {end}))',
    )


def test_a_raw_query_whose_window_is_not_a_range_cannot_be_pinned() -> None:
    import dataclasses

    from ops_toolkit.slo.model import RawSLI

    (raw,) = [s for s in slos() if s.name == "raw"]
    odd = dataclasses.replace(raw, sli=RawSLI('sum(x{w="{{window}}"})', "sum(rate(y[{{window}}]))"))
    with pytest.raises(ConfigError) as caught:
        pinned_count_queries(odd, 3600, AT)
    assert str(caught.value) == (
        "f.yaml: slos[1].sli.raw: corrections need each {{window}} inside a range like "
        "[{{window}}] (to pin it to the corrected span with @)"
    )


def test_the_plan_adds_no_query_without_corrections_and_two_per_span_with() -> None:
    weekly = Correction("weekly", cron="0 2 * * SUN", duration=7200, timezone="Europe/Berlin")
    plain = query_plan(slos()[:1], AT)
    corrected = query_plan(slos(weekly)[:1], AT)
    added = [q for q in corrected if q not in plain]
    # 30 days hold 4 or 5 Sunday windows; each is asked once (counted and total) and shared by
    # every window that holds it whole.
    pins = sorted({q.query.rsplit("@ ", 1)[1] for q in added})
    assert len(added) == 2 * len(pins)
    assert 4 <= len(pins) <= 5
    assert all(q.range == "2h" for q in added)


def status_with(corrected: tuple[CorrectedSpan, ...], excluded: Counts | None):  # type: ignore[no-untyped-def]
    (slo, _, _) = slos(Correction("x", start=utc(AT - 7200), end=utc(AT - 3600)))
    return from_ratios(
        slo,
        AT,
        0.0002,
        {3600: 0.0, 6 * 3600: 0.0001},
        period=Counts(bad=10, total=50000),
        excluded=excluded,
        corrected=corrected,
    )


SPANS = (
    CorrectedSpan(utc(AT - 2 * DAY), utc(AT - 2 * DAY + 5400), "INC-7 bad deploy"),
    CorrectedSpan(utc(AT - 7200), utc(AT - 3600), "db upgrade"),
)


def test_the_report_says_what_was_corrected_out() -> None:
    status = status_with(SPANS, Counts(bad=250.4, total=12345.2))
    document = status_document(status)
    assert (document["excluded_events"], document["excluded_bad"]) == (12345.2, 250.4)
    assert document["corrections"] == [
        {
            "start": "2026-11-14T09:00:00Z",
            "end": "2026-11-14T10:30:00Z",
            "reason": "INC-7 bad deploy",
        },
        {"start": "2026-11-16T07:00:00Z", "end": "2026-11-16T08:00:00Z", "reason": "db upgrade"},
    ]
    assert markdown([status]).endswith(
        "Corrections (events that count neither good nor bad):\n\n"
        "- **search/availability**: 12,345 events corrected out: 2026-11-14 09:00 to 10:30 UTC "
        "(INC-7 bad deploy); 2026-11-16 07:00 to 08:00 UTC (db upgrade)\n"
    )
    assert gate_verdict(status, 0.25).reasons[-1] == (
        "search/availability: 12,345 events corrected out (2 windows); the budget above leaves "
        "them out"
    )
    assert "12,345 events corrected out (2 windows)" in slo_line(status)
    page = render_html([status])
    assert (
        "<li><b>search/availability</b>: 12,345 events corrected out (2 windows)<ul>"
        "<li>2026-11-14T09:00:00Z to 2026-11-14T10:30:00Z: INC-7 bad deploy</li>"
    ) in page


def test_a_report_without_corrections_says_nothing_of_them() -> None:
    status = status_with((), None)
    document = status_document(status)
    assert (document["excluded_events"], document["excluded_bad"], document["corrections"]) == (
        None,
        None,
        [],
    )
    assert "Corrections" not in markdown([status])
    assert "corrected" not in slo_line(status)
    assert "Corrections" not in render_html([status])
    assert all("corrected" not in reason for reason in gate_verdict(status, 0.25).reasons)


CHART = BurnDown(
    "search/availability",
    "ok",
    AT - 30 * DAY,
    AT,
    ((AT - 30 * DAY, 1.0), (AT - 15 * DAY, 0.7), (AT, 0.4)),
)


def test_the_svg_chart_shades_each_corrected_span() -> None:
    import dataclasses

    shaded = svg_burndown(
        dataclasses.replace(CHART, corrected=((AT - 15 * DAY, AT - 12 * DAY), (AT - DAY, AT)))
    )
    # 360 px wide, 24 px padding: 30 days over 312 px.
    assert (
        f'<rect class=corrected x="180.0" y="24" width="31.2" height="112" fill="{CORRECTED_COLOUR}">'
        in shaded
    )
    assert '<rect class=corrected x="325.6" y="24" width="10.4"' in shaded
    assert "class=corrected" not in svg_burndown(CHART)


def shaded_pixels(png: bytes) -> int:
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    red, green, blue = (int(CORRECTED_COLOUR[i : i + 2], 16) / 255 for i in (1, 3, 5))
    # The shade at alpha 0.8 over a white axes background.
    want = [0.8 * c + 0.2 for c in (red, green, blue)]
    return sum(
        1
        for row in pixels
        for pixel in row
        if all(abs(pixel[i] - want[i]) < 0.02 for i in range(3))
    )


def test_the_png_chart_shades_the_corrected_spans() -> None:
    import dataclasses

    plain = shaded_pixels(render_png([CHART], 600, 300))
    shaded = shaded_pixels(
        render_png(
            [dataclasses.replace(CHART, corrected=((AT - 15 * DAY, AT - 12 * DAY),))], 600, 300
        )
    )
    assert plain == 0
    assert shaded > 2000  # a tenth of the plot's width, its full height
