"""ResourceBudget (cluster-scoped): a money cap per period over a set of namespaces and workloads."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, StringConstraints

from thrifty import API_VERSION
from thrifty.api.common import (
    CURRENCY_PATTERN,
    DNS_LABEL_PATTERN,
    TIME_ZONE_DESCRIPTION,
    TIME_ZONE_PATTERN,
    ApiModel,
    Condition,
    DateTime,
    LabelSelector,
    ObjectMeta,
    SecretKeyRef,
    Weekday,
    cel,
    conditions_field,
    k8s,
    object_field,
)

DEFAULT_THRESHOLDS: Final = (50, 80, 100)
# The largest budget amount, in currency units: beyond any real spend, and small enough that every
# ratio and forecast computed from it stays finite.
MAX_AMOUNT: Final = 1e12

Percent = Annotated[int, Field(ge=1, le=1000)]


class PeriodStart(ApiModel):
    """Where each period begins. Periods begin at midnight in timeZone."""

    time_zone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        pattern=TIME_ZONE_PATTERN,
        description="IANA time zone of the period boundaries, e.g. America/New_York: "
        f"{TIME_ZONE_DESCRIPTION} Default: UTC.",
    )
    day_of_month: int = Field(
        default=1,
        ge=1,
        le=28,
        description="For Monthly: the day of the month a period starts on, 1-28. Default: 1.",
    )
    day_of_week: Weekday = Field(
        default="Mon",
        description="For Weekly: the day a period starts on. Default: Mon.",
    )


class BudgetScope(ApiModel):
    """What the budget covers: namespaces (by list or by selector), optionally narrowed to workloads."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "has(self.namespaces) != has(self.namespaceSelector)",
                    "set exactly one of namespaces or namespaceSelector (namespaceSelector: {} selects "
                    "every namespace)",
                )
            ]
        )
    )

    namespaces: list[Annotated[str, StringConstraints(max_length=63, pattern=DNS_LABEL_PATTERN)]] | None = (
        Field(
            default=None,
            min_length=1,
            max_length=256,
            description="Namespaces the budget covers, by name (DNS-1123 labels), 1-256 of them. Exactly "
            "one of namespaces and namespaceSelector must be set.",
            json_schema_extra=k8s(list_type="set"),
        )
    )
    namespace_selector: LabelSelector | None = Field(
        default=None,
        description="Namespaces the budget covers, by their labels. An empty selector ({}) selects every "
        "namespace. Exactly one of namespaces and namespaceSelector must be set.",
    )
    workload_selector: LabelSelector | None = Field(
        default=None,
        description="Only workloads (Deployments and StatefulSets) whose labels match count against and "
        "are governed by the budget. Unset: every workload in the selected namespaces.",
    )


class Webhook(ApiModel):
    """Where threshold notifications are POSTed. The URL lives in a Secret because it often holds a token."""

    secret_ref: SecretKeyRef = Field(
        description="The Secret key holding the webhook URL (for example a Slack incoming webhook).",
    )


class ResourceBudgetSpec(ApiModel):
    """A spending cap for one period and what happens as spend approaches it."""

    amount: float = Field(
        ge=0,
        le=MAX_AMOUNT,
        description="The budget for one period, in currency units (e.g. 2000 for 2,000 USD); 0 to 1e12.",
    )
    currency: str = Field(
        default="USD",
        pattern=CURRENCY_PATTERN,
        max_length=3,
        description="ISO 4217 code, three upper-case letters (e.g. EUR); must match the CostPolicy's "
        "pricing.currency (no conversion is done). Default: USD.",
    )
    period: Literal["Daily", "Weekly", "Monthly"] = Field(
        default="Monthly",
        description="Length of a budget period: Daily, Weekly or Monthly. Default: Monthly.",
    )
    period_start: PeriodStart = object_field(
        PeriodStart, "Where periods begin. Default: midnight UTC, Mondays for Weekly, the 1st for Monthly."
    )
    scope: BudgetScope = Field(description="The namespaces and workloads whose cost counts.")
    thresholds: list[Percent] = Field(
        default_factory=lambda: list(DEFAULT_THRESHOLDS),
        min_length=1,
        max_length=10,
        description="Percentages of amount, strictly ascending, each 1-1000. Each fires once per period "
        "(Event, condition, metric, webhook). Default: [50, 80, 100].",
        json_schema_extra=k8s(
            list_type="set",
            default=list(DEFAULT_THRESHOLDS),
            rules=[cel("self.isSorted()", "thresholds must be in ascending order, e.g. [50, 80, 100]")],
        ),
    )
    enforcement: Literal["Alert", "BlockScaleUp", "ScaleDown"] = Field(
        default="Alert",
        description="Alert only notifies. BlockScaleUp keeps workloads in scope from scaling above their "
        "current replicas once the forecast for the period's end or the spend reaches the amount (their "
        "ScalingPolicy reports BudgetLimited). ScaleDown does that too, and past 100% of the amount also "
        "scales workloads down, lowest priority first, never below their ScalingPolicy's minReplicas. "
        "Default: Alert.",
    )
    webhook: Webhook | None = Field(
        default=None,
        description="Optional webhook notified when a threshold fires. Unset: no webhook.",
    )


# ----- status -----


class FiredThreshold(ApiModel):
    """A threshold that fired in the current period."""

    percent: int = Field(description="The threshold, in percent of amount.")
    fired_at: DateTime = Field(description="When it fired, RFC 3339.")


class GovernedWorkload(ApiModel):
    """A workload the budget's enforcement holds, and how far."""

    namespace: str = Field(description="Namespace of the workload.")
    kind: str = Field(description="Deployment or StatefulSet.")
    name: str = Field(description="Name of the workload.")
    max_replicas: int = Field(
        description="Most replicas its ScalingPolicy may recommend or set while enforced."
    )
    reason: str | None = Field(default=None, description="Why this many, in a sentence.")


class EnforcementStatus(ApiModel):
    """What the enforcement does right now."""

    active: bool = Field(
        default=False,
        description="True while the enforcement holds workloads: for BlockScaleUp once the forecast or "
        "the spend reaches the amount, for ScaleDown once the spend passes it.",
    )
    reason: str | None = Field(default=None, description="Why it is active or not, in a sentence.")
    workloads: list[GovernedWorkload] = Field(
        default_factory=list,
        description="For ScaleDown: the workloads scaled down, lowest priority first, each never below its "
        "ScalingPolicy's minReplicas.",
    )


class ResourceBudgetStatus(ApiModel):
    """Spend, forecast and alerts for the current period. Written by the operator only."""

    observed_generation: int | None = Field(
        default=None, description="metadata.generation the status was computed for."
    )
    conditions: list[Condition] = conditions_field(
        "Ready (spend is being tracked), ForecastOverrun (the period is forecast to end over budget), "
        "Exceeded (spend has reached the amount), WebhookReady (the webhook Secret and key exist)."
    )
    period_start: DateTime | None = Field(default=None, description="Start of the current period, RFC 3339.")
    period_end: DateTime | None = Field(default=None, description="End of the current period, RFC 3339.")
    spent: float | None = Field(default=None, description="Spent so far this period, in currency units.")
    forecast: float | None = Field(
        default=None, description="Forecast spend at the end of the period, in currency units."
    )
    hourly_rate: float | None = Field(
        default=None,
        description="Spend per hour in the newest step of the spend data, in currency units: what the scope "
        "costs now. The step is 10 minutes for a Daily budget and 15 for Weekly and Monthly ones (the data "
        "reaches eight days before the period), so a move to cheaper capacity such as spot shows within one "
        "step, while spent only grows more slowly.",
    )
    forecast_method: str | None = Field(
        default=None, description="How the forecast was made, e.g. Linear or Seasonal."
    )
    utilization_percent: float | None = Field(
        default=None, description="spent / amount in percent, rounded to one decimal."
    )
    remaining: float | None = Field(
        default=None, description="amount - spent, in currency units; negative when over budget."
    )
    fired_thresholds: list[FiredThreshold] = Field(
        default_factory=list,
        description="Thresholds that fired this period; cleared when a new period starts.",
        json_schema_extra=k8s(list_type="map", map_keys=["percent"]),
    )
    state: str | None = Field(
        default=None,
        description="One word for kubectl get: OK, Warning (a threshold fired), ForecastOverrun, "
        "Exceeded or Unknown.",
    )
    data_as_of: DateTime | None = Field(
        default=None, description="Time of the newest cost sample used, RFC 3339."
    )
    stale: bool | None = Field(
        default=None, description="True when cost data is older than expected (Prometheus lagging or down)."
    )
    namespaces: list[str] = Field(
        default_factory=list, description="The namespaces the scope resolves to now, sorted."
    )
    enforcement: EnforcementStatus | None = Field(
        default=None, description="Whether the enforcement holds workloads now, and which."
    )


class ResourceBudget(ApiModel):
    """A whole ResourceBudget object as read from the cluster."""

    api_version: str = Field(default=API_VERSION, description=f"{API_VERSION}.")
    kind: Literal["ResourceBudget"] = Field(default="ResourceBudget", description="ResourceBudget.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Object metadata.")
    spec: ResourceBudgetSpec = Field(description="Desired behaviour.")
    status: ResourceBudgetStatus | None = Field(default=None, description="Observed state.")
