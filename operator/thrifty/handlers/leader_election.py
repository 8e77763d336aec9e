"""One active replica: before kopf starts, wait to hold the operator's Lease; while running, renew
it; a replica that cannot renew within the deadline exits at once, so two never act together.

A standby answers its liveness endpoint ("standby") so the kubelet leaves it running. A clean stop
lets the lease go, and the standby takes over within a retry interval; after a crash it takes over
once the lease has gone unrenewed for its duration (15 s by default).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from kubernetes.client import ApiException

from thrifty.actuators.leader_lease import LeaseRef, read_lease, release_lease, write_lease
from thrifty.engine.leader_lease import LeaseRecord, LeaseTiming, may_take

__all__ = ["leading"]

log = logging.getLogger(__name__)


@contextmanager
def leading(namespace: str, name: str, identity: str, liveness: str, timing: LeaseTiming) -> Iterator[None]:
    """Block until this process holds the Lease ``namespace/name``, then keep it while the body runs."""
    ref = LeaseRef(namespace, name)
    with _standby_liveness(liveness):
        _acquire(ref, identity, timing)
    log.info("holding Lease %s/%s as %s: this replica is active", namespace, name, identity)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(ref, identity, timing, stop), name="lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=timing.retry_seconds * 2)
        try:
            release_lease(ref, identity)
            log.info("released Lease %s/%s", namespace, name)
        except ApiException as err:
            log.warning(
                "Lease %s/%s not released (%s): the standby waits for it to expire",
                namespace,
                name,
                err.reason,
            )


def _acquire(ref: LeaseRef, me: str, timing: LeaseTiming) -> None:
    seen: LeaseRecord | None = None
    since = time.monotonic()
    waiting_logged = ""
    while True:
        try:
            lease, record = read_lease(ref)
            if record != seen:
                seen, since = record, time.monotonic()
            if may_take(record, me, since, time.monotonic(), timing):
                write_lease(ref, lease, me, timing)
                return
            if record is not None and record.holder != waiting_logged:
                waiting_logged = record.holder
                log.info("standby: Lease %s/%s is held by %s", ref.namespace, ref.name, record.holder)
        except ApiException as err:
            if err.status != 409:  # 409: another replica took it first
                log.warning("standby: Lease %s/%s: %s", ref.namespace, ref.name, err.reason)
        time.sleep(timing.retry_seconds)


def _renew(ref: LeaseRef, me: str, timing: LeaseTiming, stop: threading.Event) -> None:
    renewed = time.monotonic()
    while not stop.wait(timing.retry_seconds):
        try:
            lease, record = read_lease(ref)
            if record is not None and record.holder not in ("", me):
                _exit(f"Lease {ref.namespace}/{ref.name} is now held by {record.holder}")
            write_lease(ref, lease, me, timing)
            renewed = time.monotonic()
        except ApiException as err:
            log.warning("Lease %s/%s not renewed: %s", ref.namespace, ref.name, err.reason)
        if time.monotonic() - renewed > timing.renew_deadline_seconds:
            _exit(f"Lease {ref.namespace}/{ref.name} not renewed for {timing.renew_deadline_seconds:.0f} s")


def _exit(why: str) -> None:
    """Stop acting now: whatever is half done is recorded in status (pendingAction) for the next leader."""
    log.critical("%s: exiting so that only one replica acts", why)
    logging.shutdown()
    os._exit(1)


@contextmanager
def _standby_liveness(liveness: str) -> Iterator[None]:
    url = urlparse(liveness)

    class Standby(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == (url.path or "/") else 404)
            self.end_headers()
            self.wfile.write(b"standby\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((url.hostname or "0.0.0.0", url.port or 80), Standby)
    thread = threading.Thread(target=server.serve_forever, name="standby-liveness", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
