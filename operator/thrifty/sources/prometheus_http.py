"""The Prometheus HTTP client: TLS and bearer token, retries, one error type, and a query counter.

Calls block; the operator makes them from worker threads, never from kopf's event loop.

``range_points`` parses a range answer as it arrives, one series at a time, into numpy arrays: a
series of 10,081 points costs about 1.9 MB as the Python lists ``json`` makes of it, and 160 kB as
two arrays, so an answer for thousands of containers over days is never held whole.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import ijson
import numpy as np
import numpy.typing as npt
import requests
import urllib3
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from prometheus_client import Counter
from urllib3.util.retry import Retry

from thrifty.settings import PrometheusSettings

log = logging.getLogger(__name__)

QUERIES_SENT: Final = Counter(
    "thrifty_prometheus_queries",
    "PromQL queries sent to Prometheus, by what they read "
    "(cpu_usage, memory_working_set, resource_requests, resource_limits, oom_kills, presence).",
    ["metric"],
)

# Raw series as Prometheus' JSON API returns them: {"metric": {...}, "values" or "value": ...}.
RawSeries = dict[str, Any]


@dataclass(frozen=True)
class SeriesPoints:
    """One series of a range answer: its labels, and its points' unix seconds and values."""

    labels: Mapping[str, str]
    stamps: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]


class MetricsUnavailableError(RuntimeError):
    """Prometheus could not answer: unreachable, timed out, or an HTTP error.

    Callers report ``MetricsAvailable=False`` with ``reason`` and make no scale-down decision.
    """

    def __init__(self, url: str, reason: str, cause: str) -> None:
        super().__init__(f"Prometheus at {url}: {cause}")
        self.url = url
        self.reason = reason
        self.cause = cause


class QueryRejectedError(MetricsUnavailableError):
    """Prometheus answered and refused the query itself (HTTP 400 bad_data or 422 execution error):
    for a query a user wrote, that is the user's to fix, not an outage."""


_STATUS_CODE = re.compile(r"HTTP Status Code (\d+)")
_REJECTED = frozenset({400, 422})


class BearerTokenFile(requests.auth.AuthBase):
    """Reads the token on every request: projected service-account tokens rotate under a running pod."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.path.read_text().strip()}"
        return request


def connect(settings: PrometheusSettings) -> PrometheusConnect:
    """A client for ``settings.url`` with its CA (or no verification), token and retry policy."""
    session = requests.Session()
    session.verify = str(settings.ca_file) if settings.ca_file else not settings.insecure_skip_verify
    retry = Retry(
        total=settings.retries,
        backoff_factor=0.5,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
    )
    if settings.bearer_token_file is not None:
        # On the session, not PrometheusConnect's auth (typed as a basic-auth tuple): requests applies
        # a session's auth to every request that brings none.
        session.auth = BearerTokenFile(settings.bearer_token_file)
    return PrometheusConnect(
        url=settings.url, session=session, retry=retry, timeout=math.ceil(settings.timeout_seconds)
    )


@dataclass
class QueryRunner:
    """Sends queries for one evaluation, counting them here and in ``thrifty_prometheus_queries_total``."""

    client: PrometheusConnect
    timeout_seconds: float
    sent: int = 0

    def range(self, metric: str, query: str, start: int, end: int, step: int) -> list[RawSeries]:
        answer: list[RawSeries] = self._send(
            metric,
            lambda params: self.client.custom_query_range(
                query,
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(end, UTC),
                str(step),
                params=params,
            ),
        )
        return answer

    def range_points(self, metric: str, query: str, start: int, end: int, step: int) -> list[SeriesPoints]:
        """``range``'s answer, parsed as it streams in (see the module's docstring)."""

        def call(params: dict[str, str]) -> list[SeriesPoints]:
            # The client's own session, so its TLS, token and retries apply; the client itself has no
            # streaming call.
            session: requests.Session = self.client._session
            response = session.request(
                method=self.client._method,
                url=f"{self.client.url}/api/v1/query_range",
                params={"query": query, "start": str(start), "end": str(end), "step": str(step), **params},
                headers=self.client.headers,
                auth=self.client.auth,
                timeout=self.client._timeout,
                stream=True,
            )
            with response:
                if response.status_code != 200:
                    raise PrometheusApiClientException(
                        f"HTTP Status Code {response.status_code} ({response.content!r})"
                    )
                response.raw.decode_content = True
                return _streamed_series(response.raw)

        answer: list[SeriesPoints] = self._send(metric, call)
        return answer

    def instant(self, metric: str, query: str, at: int) -> list[RawSeries]:
        answer: list[RawSeries] = self._send(
            metric, lambda params: self.client.custom_query(query, params={**params, "time": str(at)})
        )
        return answer

    def _send(self, metric: str, call: Callable[[dict[str, str]], Any]) -> Any:
        self.sent += 1
        QUERIES_SENT.labels(metric=metric).inc()
        # Prometheus stops evaluating at its own timeout, so a slow query does not keep running there.
        params = {"timeout": f"{self.timeout_seconds:g}s"}
        url = str(self.client.url)
        try:
            result = call(params)
        except requests.Timeout as error:
            raise MetricsUnavailableError(
                url, "PrometheusTimeout", f"{metric} query timed out: {error}"
            ) from error
        except requests.ConnectionError as error:
            raise MetricsUnavailableError(
                url, "PrometheusUnreachable", f"{metric} query: {_root_cause(error)}"
            ) from error
        except requests.RequestException as error:  # retries exhausted on 429/5xx, bad JSON, ...
            raise MetricsUnavailableError(url, "PrometheusError", f"{metric} query: {error}") from error
        # Read from a streamed answer, which requests does not wrap in its own errors.
        except urllib3.exceptions.ReadTimeoutError as error:
            raise MetricsUnavailableError(
                url, "PrometheusTimeout", f"{metric} query timed out: {error}"
            ) from error
        except urllib3.exceptions.HTTPError as error:  # the stream broke off, or would not decode
            raise MetricsUnavailableError(url, "PrometheusError", f"{metric} query: {error}") from error
        except MalformedAnswerError as error:
            raise MetricsUnavailableError(
                url, "PrometheusError", f"{metric} query: malformed answer: {error}"
            ) from error
        except PrometheusApiClientException as error:  # any other non-200 answer
            code = _STATUS_CODE.search(str(error))
            if code and int(code.group(1)) in _REJECTED:
                raise QueryRejectedError(
                    url, "QueryRejected", f"{metric} query: {_api_error(error)}"
                ) from error
            raise MetricsUnavailableError(url, "PrometheusError", f"{metric} query: {error}") from error
        if not isinstance(result, list):
            raise MetricsUnavailableError(
                url, "PrometheusError", f"{metric} query: unexpected answer {result!r:.200}"
            )
        log.debug("Prometheus %s query returned %d series", metric, len(result))
        return result


class MalformedAnswerError(ValueError):
    """A 200 answer that is not a successful Prometheus answer, or not one of the expected shape."""


_SUCCESS: Final = re.compile(rb'"status"\s*:\s*"success"')
_RESULT: Final = re.compile(rb'"result"\s*:\s*\[')


class _Ends:
    """Reads through a stream and keeps its first and last bytes: the answer's status, which a
    streaming parse of its series does not return, is at one end or the other (Prometheus writes it
    first; a proxy that sorts keys, last)."""

    KEEP = 4096

    def __init__(self, raw: Any) -> None:
        self.raw, self.head, self.tail = raw, b"", b""

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self.raw.read(size)
        if len(self.head) < self.KEEP:
            self.head += chunk[: self.KEEP - len(self.head)]
        self.tail = (self.tail + chunk)[-self.KEEP :]
        return chunk


def _streamed_series(raw: Any) -> list[SeriesPoints]:
    ends = _Ends(raw)
    try:
        series = [_points(item) for item in ijson.items(ends, "data.result.item", use_float=True)]
    except (ijson.JSONError, KeyError, TypeError, ValueError, IndexError) as error:
        raise MalformedAnswerError(f"{error!r:.200}") from error
    if not (_SUCCESS.search(ends.head) or _SUCCESS.search(ends.tail)):
        raise MalformedAnswerError(f"no success status in {ends.head[:200]!r}")
    if not series and not (_RESULT.search(ends.head) or _RESULT.search(ends.tail)):
        raise MalformedAnswerError(f"no result in {ends.head[:200]!r}")
    return series


def _points(item: Mapping[str, Any]) -> SeriesPoints:
    values = item["values"]
    return SeriesPoints(
        labels=item["metric"],
        stamps=np.fromiter((p[0] for p in values), np.float64, len(values)),
        values=np.fromiter((float(p[1]) for p in values), np.float64, len(values)),
    )


def _root_cause(error: Exception) -> str:
    """What went wrong, without the request URL (it carries the whole URL-encoded query)."""
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return errno.group(0)
    return re.sub(r"url: \S+", "url: (query)", text)[:300]


def _api_error(error: Exception) -> str:
    """Prometheus' own error text, out of the client's message "HTTP Status Code 400 (b'{json}')"."""
    text = str(error)
    body = re.search(r"\((b'.*'|b\".*\")\)\s*$", text, re.DOTALL)
    try:
        answer = json.loads(ast.literal_eval(body.group(1))) if body else {}
    except (ValueError, SyntaxError):
        answer = {}
    found = answer.get("error") if isinstance(answer, dict) else None
    return str(found) if found else text[:300]
