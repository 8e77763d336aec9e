"""Range answers parsed as they stream in: the values Prometheus writes as strings (NaN, +Inf among
them) become floats, and an answer that breaks off, is not JSON or is not a success is Prometheus
failing, said so, never an empty answer."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from thrifty.settings import PrometheusSettings
from thrifty.sources.prometheus_http import MetricsUnavailableError, QueryRunner, connect

ANSWER = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {"metric": {"pod": "a"}, "values": [[1800000000, "0.25"], [1800000060, "NaN"]]},
            {"metric": {"pod": "b"}, "values": [[1800000060.5, "+Inf"]]},
        ],
    },
}
BODIES = {
    "/whole/api/v1/query_range": (json.dumps(ANSWER).encode(), None),
    # Says it is longer than it is, then closes: the stream breaks off mid-answer.
    "/cut/api/v1/query_range": (json.dumps(ANSWER).encode()[:40], 4096),
    "/garbled/api/v1/query_range": (b'{"status": "success", "data": {"result": [{"metric": ', None),
    # Answered 200 by something in between that is not Prometheus succeeding.
    "/nothing/api/v1/query_range": (b"{}", None),
    "/error/api/v1/query_range": (b'{"status": "error", "error": "overloaded"}', None),
    "/none/api/v1/query_range": (b'{"status":"success","data":{"resultType":"matrix","result":[]}}', None),
    # Keys sorted by a proxy: the status comes after the series.
    "/sorted/api/v1/query_range": (json.dumps(ANSWER, sort_keys=True).encode(), None),
}


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, length = BODIES[self.path.split("?")[0]]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length or len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _runner(url: str) -> QueryRunner:
    return QueryRunner(connect(PrometheusSettings(url=url, retries=0, timeout_seconds=5)), 5)


def test_values_become_floats_with_their_labels(base_url: str) -> None:
    a, b = _runner(f"{base_url}/whole").range_points("cpu_usage", "q", 1800000000, 1800000060, 60)

    assert (a.labels, b.labels) == ({"pod": "a"}, {"pod": "b"})
    assert a.stamps.tolist() == [1800000000.0, 1800000060.0]
    assert a.values[0] == 0.25
    assert math.isnan(a.values[1])
    assert b.stamps.tolist() == [1800000060.5]
    assert b.values.tolist() == [math.inf]


@pytest.mark.parametrize("path", ["/sorted", "/none"])
def test_an_answer_in_another_key_order_or_with_no_series_is_read(base_url: str, path: str) -> None:
    series = _runner(f"{base_url}{path}").range_points("cpu_usage", "q", 1800000000, 1800000060, 60)

    assert len(series) == (2 if path == "/sorted" else 0)


@pytest.mark.parametrize("path", ["/cut", "/garbled", "/nothing", "/error"])
def test_an_answer_that_breaks_off_or_is_not_json_is_prometheus_failing(base_url: str, path: str) -> None:
    with pytest.raises(MetricsUnavailableError) as raised:
        _runner(f"{base_url}{path}").range_points("cpu_usage", "q", 1800000000, 1800000060, 60)

    assert raised.value.reason == "PrometheusError"
    assert "cpu_usage query" in str(raised.value)
