"""Which managers declare a NodePool's fields: a server-side apply by anyone but thrifty is a
declaration Thrifty reports rather than overwrites; an update (client-side apply, an edit) is not."""

from __future__ import annotations

from typing import Any

from thrifty.sources.node_pool_objects import apply_managers


def _entry(manager: str, operation: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "fieldsV1": {"f:spec": spec}}


def test_a_server_side_apply_of_the_field_by_another_manager_declares_it() -> None:
    pool = {
        "metadata": {
            "managedFields": [
                _entry("argocd-controller", "Apply", {"f:limits": {"f:cpu": {}}, "f:template": {}}),
                _entry("kubectl-client-side-apply", "Update", {"f:weight": {}}),
                _entry("thrifty", "Apply", {"f:weight": {}}),
                _entry("flux", "Apply", {"f:limits": {".": {}}}),
            ]
        }
    }
    assert apply_managers(pool, ("f:spec", "f:limits")) == ("argocd-controller", "flux")
    assert apply_managers(pool, ("f:spec", "f:weight")) == ()


def test_a_pool_without_managed_fields_has_no_declarations() -> None:
    assert apply_managers({"metadata": {}}, ("f:spec", "f:limits")) == ()
