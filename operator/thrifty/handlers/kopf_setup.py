"""kopf settings: our own annotation prefix and finalizer, no kopf peering; quiet Events; sane timeouts;
an index gate that scales to thousands of objects (``kopf_index_gate``); glibc's heap settings
(``process_heap``), set here too so that ``kopf run -m thrifty.handlers.registry`` gets them."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from thrifty.handlers import kopf_index_gate, process_heap
from thrifty.settings import ANNOTATION_PREFIX

kopf_index_gate.install()
process_heap.settle()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    # Replicas take turns by our own Lease (leader_election). kopf's peering would switch itself on
    # wherever another kopf operator installed its CRDs, and need permissions the chart does not grant.
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    # End silent watch stalls: the server closes a watch after server_timeout, the client gives up
    # after client_timeout, and a watch with no event for inactivity_timeout is restarted.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.inactivity_timeout = 600
    settings.networking.request_timeout = 60
    settings.execution.max_workers = 8
