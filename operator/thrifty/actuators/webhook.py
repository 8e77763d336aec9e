"""Budget notifications to a webhook (Slack-compatible JSON), off the reconcile path.

``notify`` only queues: a worker thread POSTs, retrying with exponential backoff, so a slow or dead
endpoint never delays a reconcile. What the worker could not deliver is logged; the Event and the
status, written by the handler, are the record that always exists.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Final

import requests
from prometheus_client import Counter

log = logging.getLogger(__name__)

ATTEMPTS: Final = 5
FIRST_DELAY_SECONDS: Final = 1.0
TIMEOUT_SECONDS: Final = 10.0

WEBHOOK_POSTS: Final = Counter(
    "thrifty_budget_webhook_posts", "Webhook notifications by outcome (delivered, failed).", ["outcome"]
)


@dataclass(frozen=True)
class Notification:
    url: str
    text: str


class WebhookNotifier:
    def __init__(self, attempts: int = ATTEMPTS, first_delay: float = FIRST_DELAY_SECONDS) -> None:
        self.attempts = attempts
        self.first_delay = first_delay
        self._queue: queue.Queue[Notification] = queue.Queue(maxsize=1000)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def notify(self, url: str, text: str) -> bool:
        """Queue a POST of ``{"text": text}``; False when the queue is full (the notification is dropped)."""
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="thrifty-webhook", daemon=True)
                self._worker.start()
        try:
            self._queue.put_nowait(Notification(url, text))
        except queue.Full:
            log.warning("webhook queue full; dropped: %s", text)
            return False
        return True

    def _run(self) -> None:
        while True:
            self._deliver(self._queue.get())

    def _deliver(self, item: Notification) -> None:
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                response = requests.post(item.url, json={"text": item.text}, timeout=TIMEOUT_SECONDS)
                if response.status_code < 300:
                    WEBHOOK_POSTS.labels(outcome="delivered").inc()
                    return
                why = f"HTTP {response.status_code}"
            except requests.RequestException as err:
                why = type(err).__name__
            log.warning("webhook POST attempt %d/%d failed (%s)", attempt, self.attempts, why)
            if attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
        WEBHOOK_POSTS.labels(outcome="failed").inc()
        log.error("webhook notification not delivered after %d attempts: %s", self.attempts, item.text)


NOTIFIER: Final = WebhookNotifier()
