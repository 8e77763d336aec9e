"""Every decision, pure numpy, and the plain records it decides on: right-sizing, horizontal and
predictive scaling, schedules, cost, budgets and their caps, conflicts. No kopf, kubernetes or
Prometheus client."""

__all__ = [
    "budget",
    "budget_caps",
    "budget_status",
    "conflicts",
    "cost",
    "forecast",
    "horizontal",
    "leader_lease",
    "pending_actions",
    "policy_replicas",
    "policy_requests",
    "predictive",
    "quantities",
    "query_answers",
    "replay",
    "rightsizing",
    "scaling_history",
    "schedules",
    "seasonality",
    "simulate",
    "spec_checks",
    "spend_pricing",
    "spend_records",
    "spot_fallback",
    "spot_mix",
    "status_changes",
    "workload_prices",
    "workload_records",
]
