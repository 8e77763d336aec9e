"""Every value of a Deployment's replicas and of its policy's lastAction, polled at 20 Hz on a
thread, so a fault test or benchmark sees each change a kill could lose or repeat."""

from __future__ import annotations

import threading
import time

from kubernetes import client


class ScaleRecorder:
    def __init__(self, api_client: client.ApiClient, namespace: str, name: str) -> None:
        """Records Deployment ``name`` and the ScalingPolicy of the same name in ``namespace``."""
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace, self.name = namespace, name
        self.replicas: list[tuple[int, float]] = []  # each new count, with its time.monotonic()
        self.actions: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> ScaleRecorder:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> ScaleRecorder:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            count = int(self.apps.read_namespaced_deployment(self.name, self.namespace).spec.replicas)
            if not self.replicas or self.replicas[-1][0] != count:
                self.replicas.append((count, time.monotonic()))
            try:
                policy = self.custom.get_namespaced_custom_object(
                    "thrifty.dev", "v1alpha1", self.namespace, "scalingpolicies", self.name
                )
            except client.ApiException as err:
                if err.status == 404:  # not applied yet
                    continue
                raise
            action = (policy.get("status") or {}).get("lastAction")
            if action and (not self.actions or self.actions[-1] != action):
                self.actions.append(action)
