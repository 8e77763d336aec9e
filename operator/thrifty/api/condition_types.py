"""The condition types each kind owns and the reasons it gives, one constant each.

``kubectl get ... -o jsonpath='{.status.conditions}'`` shows these words, Argo CD health checks and
alerts match on them, and tests assert them: they are part of the API.
"""

from __future__ import annotations

from typing import Final

from thrifty.api.conditions import ConditionSet

__all__ = [
    "COST_POLICY_CONDITIONS",
    "INVALID_SPEC",
    "RECONCILE_ERROR",
    "RESOURCE_BUDGET_CONDITIONS",
    "SCALING_POLICY_CONDITIONS",
    "STALLED",
    "BudgetCondition",
    "BudgetReason",
    "CostPolicyCondition",
    "CostPolicyReason",
    "PolicyCondition",
    "PolicyReason",
]


STALLED: Final = "Stalled"  # every kind: the reconcile cannot go on (Flux's and kstatus' word)
INVALID_SPEC: Final = "InvalidSpec"
RECONCILE_ERROR: Final = "ReconcileError"


class PolicyCondition:
    """ScalingPolicy's condition types."""

    STALLED: Final = STALLED
    TARGET_FOUND: Final = "TargetFound"
    CONTAINERS_FOUND: Final = "ContainersFound"
    METRICS_AVAILABLE: Final = "MetricsAvailable"
    CONFLICT: Final = "Conflict"
    RECOMMENDATION: Final = "Recommendation"
    PREDICTIVE: Final = "Predictive"
    BUDGET_LIMITED: Final = "BudgetLimited"
    GOVERNANCE_LIMITED: Final = "GovernanceLimited"
    SPOT_PLACEMENT: Final = "SpotPlacement"


class PolicyReason:
    """ScalingPolicy's reasons."""

    EVALUATED: Final = "Evaluated"
    TARGET_FOUND: Final = "TargetFound"
    TARGET_NOT_FOUND: Final = "TargetNotFound"
    CONTAINERS_FOUND: Final = "ContainersFound"
    CONTAINER_NOT_FOUND: Final = "ContainerNotFound"
    PROMETHEUS_UNAVAILABLE: Final = "PrometheusUnavailable"
    NO_DATA: Final = "NoData"
    PARTIAL_DATA: Final = "PartialData"
    METRICS_READ: Final = "MetricsRead"
    HISTORY_READ: Final = "HistoryRead"
    INVALID_QUERY: Final = "InvalidQuery"
    QUERY_RETURNED_NOTHING: Final = "QueryReturnedNothing"
    QUERY_RETURNED_SEVERAL_SERIES: Final = "QueryReturnedSeveralSeries"
    QUERY_RETURNED_NAN: Final = "QueryReturnedNaN"
    QUERY_RETURNED_INFINITY: Final = "QueryReturnedInfinity"
    QUERY_RETURNED_NEGATIVE: Final = "QueryReturnedNegative"
    QUERY_RETURNED_SCALAR: Final = "QueryReturnedScalar"
    QUERY_RETURNED_STRING: Final = "QueryReturnedString"
    QUERY_RETURNED_RANGE_VECTOR: Final = "QueryReturnedRangeVector"
    QUERY_OUTSIDE_NAMESPACE: Final = "QueryOutsideNamespace"
    NO_REQUEST: Final = "NoRequest"
    NO_CONFLICT: Final = "NoConflict"
    CONFLICT: Final = "Conflict"
    RECOMMENDED: Final = "Recommended"
    UNCHANGED: Final = "Unchanged"
    LIMIT_CAUSES_OOM: Final = "LimitCausesOOM"
    INSUFFICIENT_HISTORY: Final = "InsufficientHistory"
    STEERING: Final = "Steering"
    FORECAST_INACCURATE: Final = "ForecastInaccurate"
    NO_FORECAST: Final = "NoForecast"
    NOT_LIMITED: Final = "NotLimited"
    BUDGET_ENFORCED: Final = "BudgetEnforced"
    COST_CAPPED: Final = "CostCapped"
    WITHIN_COST_LIMIT: Final = "WithinCostLimit"
    PLACED: Final = "Placed"
    PLACING: Final = "Placing"
    FALLBACK: Final = "Fallback"
    NOT_ELIGIBLE: Final = "NotEligible"
    NOT_CONFIGURED: Final = "NotConfigured"


class BudgetCondition:
    """ResourceBudget's condition types."""

    STALLED: Final = STALLED
    WEBHOOK_READY: Final = "WebhookReady"
    SPEND_KNOWN: Final = "SpendKnown"
    FORECAST_OVERRUN: Final = "ForecastOverrun"
    EXCEEDED: Final = "Exceeded"
    THRESHOLD_REACHED: Final = "ThresholdReached"
    SPEND_ANOMALY: Final = "SpendAnomaly"


class BudgetReason:
    """ResourceBudget's reasons (a spend anomaly's reason is ``Spend`` + its direction)."""

    TRACKING: Final = "Tracking"
    NO_WEBHOOK: Final = "NoWebhook"
    SECRET_UNREADABLE: Final = "SecretUnreadable"
    WEBHOOK_SECRET_NOT_FOUND: Final = "WebhookSecretNotFound"
    WEBHOOK_SECRET_FOUND: Final = "WebhookSecretFound"
    PROMETHEUS_UNAVAILABLE: Final = "PrometheusUnavailable"
    STALE_DATA: Final = "StaleData"
    NO_CONTAINERS: Final = "NoContainers"
    SPEND_COMPUTED: Final = "SpendComputed"
    FORECAST_OVERRUN: Final = "ForecastOverrun"
    FORECAST_WITHIN_BUDGET: Final = "ForecastWithinBudget"
    EXCEEDED: Final = "Exceeded"
    WITHIN_BUDGET: Final = "WithinBudget"
    THRESHOLD_REACHED: Final = "ThresholdReached"
    NO_THRESHOLD_REACHED: Final = "NoThresholdReached"
    NO_ANOMALY: Final = "NoAnomaly"
    NON_FINITE_SPEND: Final = "NonFiniteSpend"
    SPEND_PREFIX: Final = "Spend"


class CostPolicyCondition:
    """CostPolicy's condition types."""

    STALLED: Final = STALLED
    IN_USE: Final = "InUse"
    NODE_POOLS_READY: Final = "NodePoolsReady"
    GOVERNANCE_VIOLATION: Final = "GovernanceViolation"


class CostPolicyReason:
    """CostPolicy's reasons."""

    ACTIVE: Final = "Active"
    IN_USE: Final = "InUse"
    NOT_IN_USE: Final = "NotInUse"
    NO_NODE_POOLS: Final = "NoNodePools"
    NODE_POOLS_STEERED: Final = "NodePoolsSteered"
    NODE_POOL_NOT_FOUND: Final = "NodePoolNotFound"
    NODE_POOL_API_UNAVAILABLE: Final = "NodePoolApiUnavailable"
    CAPACITY_TYPE_MISMATCH: Final = "CapacityTypeMismatch"
    FIELD_MANAGED_ELSEWHERE: Final = "FieldManagedElsewhere"
    WRITE_FAILED: Final = "WriteFailed"
    COMPLIANT: Final = "Compliant"
    NO_GOVERNANCE: Final = "NoGovernance"
    OUTSIDE_GOVERNANCE: Final = "OutsideGovernance"


def _owned(names: type) -> tuple[str, ...]:
    return tuple(value for key, value in vars(names).items() if key.isupper())


SCALING_POLICY_CONDITIONS: Final = ConditionSet("ScalingPolicy", _owned(PolicyCondition))
RESOURCE_BUDGET_CONDITIONS: Final = ConditionSet("ResourceBudget", _owned(BudgetCondition))
COST_POLICY_CONDITIONS: Final = ConditionSet("CostPolicy", _owned(CostPolicyCondition))
