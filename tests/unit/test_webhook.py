"""Webhook notifications: queued without blocking, retried with backoff until delivered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from thrifty.actuators.webhook import WebhookNotifier


class Receiver(BaseHTTPRequestHandler):
    failures_left = 0
    received: ClassVar[list[dict[str, str]]] = []
    delay = 0.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(Receiver.delay)
        if Receiver.failures_left > 0:
            Receiver.failures_left -= 1
            self.send_response(503)
        else:
            Receiver.received.append(json.loads(body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    Receiver.received = []
    Receiver.failures_left = 0
    Receiver.delay = 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def wait_until(check: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.02)


def test_a_notification_is_posted_as_slack_text(url: str) -> None:
    notifier = WebhookNotifier(first_delay=0.01)
    assert notifier.notify(url, "budget team: 80% of 1000 USD spent")
    wait_until(lambda: Receiver.received)
    assert Receiver.received == [{"text": "budget team: 80% of 1000 USD spent"}]


def test_failures_are_retried_with_backoff_until_delivered(url: str) -> None:
    Receiver.failures_left = 2
    notifier = WebhookNotifier(attempts=4, first_delay=0.05)
    notifier.notify(url, "retry me")
    wait_until(lambda: Receiver.received)
    assert Receiver.received == [{"text": "retry me"}]


def test_notify_never_waits_for_a_slow_endpoint(url: str) -> None:
    Receiver.delay = 1.0
    notifier = WebhookNotifier(first_delay=0.01)
    started = time.monotonic()
    for n in range(5):
        notifier.notify(url, f"slow {n}")
    queued = time.monotonic() - started
    # Every call returned before the endpoint answered the first POST.
    assert Receiver.received == []
    print(f"5 notifications queued in {queued * 1000:.1f} ms against a 1 s endpoint")
    wait_until(lambda: len(Receiver.received) >= 1, timeout=5)
