"""Every answer of a Prometheus (or of whatever answers in its place) is validated: garbage
is a ``MetricsError`` naming what is off, never an AttributeError or IndexError.

The server is real (a local HTTP server on a loopback port), the client is the real one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.model import Sample
from ops_toolkit.metrics.prometheus import PrometheusSource
from tests.answering_server import AnsweringServer, answering_server

SHAPE = "answered with an unexpected shape: "


@pytest.fixture
def server() -> Iterator[AnsweringServer]:
    yield from answering_server()


def vector(result: str) -> str:
    return '{"status":"success","data":{"resultType":"vector","result":' + result + "}}"


GARBAGE = [
    pytest.param(
        vector('"x"'),
        200,
        "application/json",
        SHAPE + "data.result: expected a list, got a string",
        id="a result that is a string",
    ),
    pytest.param(
        vector('[{"metric":{},"value":[1]}]'),
        200,
        "application/json",
        SHAPE + 'data.result[0].value: expected [time, "number"], got [1]',
        id="a value with one element",
    ),
    pytest.param(
        vector('[{"metric":{}}]'),
        200,
        "application/json",
        SHAPE + 'data.result[0].value: expected [time, "number"], got null',
        id="a series without a value",
    ),
    pytest.param(
        vector('[{"metric":{},"value":[1,"many"]}]'),
        200,
        "application/json",
        SHAPE + 'data.result[0].value: not a number: "many"',
        id="a value that is not a number",
    ),
    pytest.param(
        vector('[{"metric":{},"value":[1,2]}]'),
        200,
        "application/json",
        SHAPE + 'data.result[0].value: expected [time, "number"], got [1, 2]',
        id="a value that is a JSON number, not a string",
    ),
    pytest.param(
        vector('[{"metric":{"a":1},"value":[1,"2"]}]'),
        200,
        "application/json",
        SHAPE + "data.result[0].metric: expected an object of string labels",
        id="labels that are not strings",
    ),
    pytest.param(
        vector("[7]"),
        200,
        "application/json",
        SHAPE + "data.result[0]: expected an object, got a number",
        id="a series that is a number",
    ),
    pytest.param(
        '{"status":"success"}',
        200,
        "application/json",
        SHAPE + "data: expected an object, got nothing",
        id="no data",
    ),
    pytest.param(
        '{"status":"success","data":{"resultType":"table","result":[]}}',
        200,
        "application/json",
        SHAPE + 'data.resultType: expected one of vector, scalar, matrix, string, got "table"',
        id="an unknown result type",
    ),
    pytest.param(
        '{"status":"success","data":{"resultType":"scalar","result":"1"}}',
        200,
        "application/json",
        SHAPE + 'data.result: expected [time, "number"], got "1"',
        id="a scalar that is not a pair",
    ),
    pytest.param(
        '{"status":"success","data":{"resultType":"string","result":[1,"hi"]}}',
        200,
        "application/json",
        SHAPE + "data.result: a string, not a number (the query returns text)",
        id="a string result",
    ),
    pytest.param(
        "[1, 2]",
        200,
        "application/json",
        SHAPE + "expected an object, got a list",
        id="a list instead of an object",
    ),
    pytest.param(
        '{"status":"maybe"}',
        200,
        "application/json",
        SHAPE + "status: expected 'success', got \"maybe\"",
        id="an unknown status",
    ),
    pytest.param(
        "<html><body>502 Bad Gateway</body></html>",
        502,
        "text/html; charset=utf-8",
        "answered HTTP 502 with a body that is not JSON (text/html): "
        "'<html><body>502 Bad Gateway</body></html>'",
        id="an HTML error page from a proxy",
    ),
    pytest.param(
        "\x00\xff garbage",
        200,
        "application/octet-stream",
        "answered HTTP 200 with a body that is not JSON (application/octet-stream): "
        "'\\x00\\ufffd garbage'",
        id="binary garbage",
    ),
    pytest.param(
        "",
        200,
        "",
        "answered HTTP 200 with a body that is not JSON (no content type): an empty body",
        id="an empty body",
    ),
    pytest.param(
        "[" * 100_000,
        200,
        "application/json",
        "answered HTTP 200 with a body that is not JSON (application/json): '" + "[" * 60 + "'...",
        id="JSON nested too deep to parse",
    ),
    pytest.param(
        '{"status":"error","errorType":"bad_data","error":"parse error\\nat line 1"}',
        400,
        "application/json",
        "rejected the query: HTTP 400: bad_data: parse error at line 1",
        id="a rejection on two lines is one line",
    ),
    pytest.param(
        '{"status":"success","data":{"resultType":"vector","result":[]}}',
        500,
        "application/json",
        "rejected the query: HTTP 500: no reason given",
        id="a server error with a success body",
    ),
]


@pytest.mark.parametrize(("body", "status", "content_type", "message"), GARBAGE)
def test_a_garbage_answer_is_a_metrics_error_naming_what_is_off(
    server: AnsweringServer, body: str, status: int, content_type: str, message: str
) -> None:
    server.set(body.encode("latin-1") if "\xff" in body else body, status, content_type)
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(server.url, timeout=5).query("up", at=1_800_000_000)
    assert str(raised.value) == f"Prometheus at {server.url} {message}"


def test_query_many_returns_the_error_in_place(server: AnsweringServer) -> None:
    server.set(vector('"x"'))
    answers = PrometheusSource(server.url, timeout=5).query_many(["a", "b"], at=1.0)
    assert [type(a) for a in answers] == [MetricsError, MetricsError]


def test_well_formed_answers_of_every_numeric_kind_are_read(server: AnsweringServer) -> None:
    source = PrometheusSource(server.url, timeout=5)
    server.set(vector('[{"metric":{"job":"a"},"value":[1.5,"0.25"]},{"value":[1,"NaN"]}]'))
    first, second = source.query("up")
    assert first == Sample({"job": "a"}, 0.25)
    assert second.labels == {} and math.isnan(second.value)
    server.set('{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}')
    assert source.query("1/0") == [Sample({}, math.inf)]
    server.set(
        '{"status":"success","data":{"resultType":"matrix",'
        '"result":[{"metric":{},"values":[[1,"1"],[2,"3"]]}]}}'
    )
    assert source.query("up[5m]") == [Sample({}, 3.0)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7", 7.0),
        ("-0.25", -0.25),
        ("1e+06", 1e6),
        ("1.5E-3", 1.5e-3),
        (".5", 0.5),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
    ],
)
def test_sample_values_are_read_as_prometheus_writes_them(
    server: AnsweringServer, text: str, value: float
) -> None:
    server.set(vector(f'[{{"metric":{{}},"value":[1,"{text}"]}}]'))
    assert PrometheusSource(server.url, timeout=5).query("up") == [Sample({}, value)]


@pytest.mark.parametrize(
    "text",
    ["1_000", "\\u0663", " 7", "7 ", "infinity", "inf", "nan", "Infinity", "0x10", "1e", ""],
    ids=[
        "underscores",
        "an Arabic digit",
        "a leading space",
        "a trailing space",
        "infinity spelt out",
        "inf without a sign",
        "nan in lower case",
        "Infinity",
        "hexadecimal",
        "an exponent without digits",
        "nothing",
    ],
)
def test_what_float_takes_but_prometheus_never_sends_is_not_a_number(
    server: AnsweringServer, text: str
) -> None:
    """Was read as a number (float() takes '1_000' and non-ASCII digits)."""
    server.set(vector(f'[{{"metric":{{}},"value":[1,"{text}"]}}]'))
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(server.url, timeout=5).query("up")
    assert str(raised.value) == (  # the value as JSON, ASCII: the Arabic 3 as \u0663
        f'Prometheus at {server.url} {SHAPE}data.result[0].value: not a number: "{text}"'
    )


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["report"], "Error: search/availability: query "),
        (
            ["gate", "search/availability", "--min-remaining", "0.25"],
            "search/availability: cannot tell: search/availability: query ",
        ),
    ],
    ids=["report", "gate"],
)
def test_report_and_gate_print_an_error_not_a_traceback(
    server: AnsweringServer, args: list[str], prefix: str
) -> None:
    from click.testing import CliRunner

    from ops_toolkit.cli import main
    from tests.conftest import ROOT

    server.set(vector('[{"metric":{},"value":[1]}]'))
    where = [args[0], *args[1:2], str(ROOT / "slos"), *args[2:]]
    result = CliRunner().invoke(main, ["slo", *where, "--prometheus", server.url])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(prefix)
    assert result.output.endswith(
        f"Prometheus at {server.url} {SHAPE}data.result[0].value: "
        'expected [time, "number"], got [1]\n'
    )


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """A server that sends its headers and then never the body it announced."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection = listener.accept()[0]
            except OSError:
                continue
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"status"'
            )
            held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_prometheus_that_stalls_mid_answer_times_out(stalling_server: str) -> None:
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(stalling_server, timeout=0.5).query("up")
    assert str(raised.value) == f"Prometheus at {stalling_server} did not answer within 0.5s"


def test_a_password_in_the_url_never_shows_in_an_error() -> None:
    from ops_toolkit.metrics.prometheus import PrometheusSource, redact_url

    assert (
        redact_url("https://ops:s3cret-pw@prom.example:9090") == "https://ops:***@prom.example:9090"
    )
    source = PrometheusSource("http://ops:s3cret-pw@127.0.0.1:1", timeout=2)
    with pytest.raises(MetricsError) as caught:
        source.query("up")
    assert "s3cret-pw" not in str(caught.value)
    assert str(caught.value).startswith("cannot reach Prometheus at http://ops:***@127.0.0.1:1: ")
