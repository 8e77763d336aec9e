"""Pods: the mutating webhook that sends each new pod of a placed workload to the capacity type that
keeps its mix, and the server it runs on."""

from thrifty.handlers.pod_placement import admission_server, pod_admission

__all__ = ["admission_server", "pod_admission", "serving_certificate"]
