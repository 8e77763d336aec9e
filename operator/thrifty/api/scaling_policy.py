"""ScalingPolicy (namespaced): how one Deployment or StatefulSet is scaled out and right-sized."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, StringConstraints

from thrifty import API_VERSION
from thrifty.api.common import (
    CLOCK_PATTERN,
    DNS_LABEL_PATTERN,
    TIME_ZONE_DESCRIPTION,
    TIME_ZONE_PATTERN,
    ApiModel,
    Condition,
    DateTime,
    ObjectMeta,
    Quantity,
    ResourceList,
    ResourceRequirements,
    TargetRef,
    Weekday,
    cel,
    conditions_field,
    k8s,
    object_field,
)

ALL_WEEKDAYS: Final[list[Weekday]] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

# The most replicas any field takes; the HPA has no bound, but a policy beyond this is a typo.
MAX_REPLICAS: Final = 100000
# Largest CPU and memory a bound on one container's request may name. The largest machines sold have
# fewer cores and less memory, and a bound beyond them would only turn into an absurd (or infinite)
# cost once multiplied by prices.
MAX_CONTAINER_CPU: Final = "4096"
MAX_CONTAINER_MEMORY: Final = "64Ti"
# Largest value a Prometheus metric's target per replica may take; finite by construction.
MAX_TARGET_PER_REPLICA: Final = 1e15


def _as_quantity(path: str) -> str:
    """CEL: an int-or-string value as a quantity. Such values reach CEL untyped and quantity() only
    parses strings, so integers (cpu: 2) go through quantity('0').add()."""
    return f"(type({path}) == int ? quantity('0').add({path}) : quantity({path}))"


def _quantity_at_most(resource: str) -> str:
    """CEL: minAllowed.<resource> <= maxAllowed.<resource> when both are set."""
    low, high = f"self.minAllowed.{resource}", f"self.maxAllowed.{resource}"
    return (
        f"!has(self.minAllowed) || !has(self.maxAllowed) || !has({low}) || !has({high})"
        f" || !{_as_quantity(low)}.isGreaterThan({_as_quantity(high)})"
    )


def _quantity_within(path: str, limit: str) -> str:
    """CEL: the int-or-string quantity at `path` is at most `limit`. A string that is no quantity passes:
    the schema's pattern already reports it, and quantity() would only add an unreadable second error."""
    return (
        f"type({path}) == int ? !quantity('0').add({path}).isGreaterThan(quantity('{limit}'))"
        f" : (!isQuantity({path}) || !quantity({path}).isGreaterThan(quantity('{limit}')))"
    )


def _container_bounds(field: str) -> list[dict[str, str]]:
    """CEL on a ResourceList bound (minAllowed, maxAllowed): neither resource beyond the largest
    container this API takes."""
    return [
        cel(
            f"!has(self.{resource}) || ({_quantity_within(f'self.{resource}', limit)})",
            f"{field}.{resource} must be at most {limit}",
            f".{resource}",
        )
        for resource, limit in (("cpu", MAX_CONTAINER_CPU), ("memory", MAX_CONTAINER_MEMORY))
    ]


class Metric(ApiModel):
    """One signal the replica count follows. The highest replica count any metric asks for wins."""

    # One rule per missing or misplaced field, so the error points at that field.
    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "self.type != 'Prometheus' || has(self.query)",
                    "query is required for a Prometheus metric",
                    ".query",
                ),
                cel(
                    "self.type != 'Prometheus' || has(self.targetPerReplica)",
                    "targetPerReplica is required for a Prometheus metric",
                    ".targetPerReplica",
                ),
                cel(
                    "self.type != 'Prometheus' || !has(self.targetUtilization)",
                    "targetUtilization is only for CPU and Memory metrics; a Prometheus metric uses "
                    "targetPerReplica",
                    ".targetUtilization",
                ),
                cel(
                    "self.type == 'Prometheus' || has(self.targetUtilization)",
                    "targetUtilization is required for a CPU or Memory metric",
                    ".targetUtilization",
                ),
                cel(
                    "self.type == 'Prometheus' || (!has(self.query) && !has(self.targetPerReplica))",
                    "query and targetPerReplica are only for Prometheus metrics",
                    ".query",
                ),
            ]
        )
    )

    type: Literal["CPU", "Memory", "Prometheus"] = Field(
        description="CPU or Memory: average utilization as a percentage of the pods' requests. "
        "Prometheus: a PromQL query whose value is divided by a target value per replica.",
    )
    target_utilization: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="For CPU and Memory: the average utilization to hold, in percent of requests "
        "(e.g. 70), 1-1000. Values above 100 are allowed because usage may exceed requests.",
    )
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        # Unanchored: the query must contain at least one character that is not whitespace.
        pattern=r"\S",
        description="For Prometheus: a PromQL instant query returning one series with one finite, "
        "non-negative value for the whole workload, e.g. "
        'sum(rate(http_requests_total{namespace="demo",app="web"}[2m])). Not blank; at most 4096 '
        'characters. Every selector must carry namespace="<the policy\'s namespace>" (a query that '
        "reads another namespace is not sent: MetricsAvailable says QueryOutsideNamespace). Several "
        "series, NaN, infinity, a negative value, a scalar, a string or a range vector give no reading, "
        "each with its own reason, and never scale down.",
    )
    target_per_replica: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TARGET_PER_REPLICA,
        description="For Prometheus: the query value one replica should handle; desired replicas = "
        "ceil(value / targetPerReplica). Greater than 0, at most 1e15.",
    )


class RatePolicy(ApiModel):
    """One limit on how much replicas may change within a period, as in the HPA's behavior policies."""

    type: Literal["Pods", "Percent"] = Field(
        description="Pods limits the change to a number of pods, Percent to a share of current replicas.",
    )
    value: int = Field(
        ge=1, le=100000, description="The number of pods, or the percentage, per period; 1-100000."
    )
    period_seconds: int = Field(
        default=15, ge=1, le=1800, description="Length of the period in seconds, 1-1800. Default: 15."
    )


def _rate_policies(*policies: tuple[Literal["Pods", "Percent"], int]) -> list[RatePolicy]:
    return [RatePolicy(type=kind, value=value) for kind, value in policies]


_SCALE_UP_POLICIES: Final = (("Percent", 100), ("Pods", 4))
_SCALE_DOWN_POLICIES: Final = (("Percent", 100),)

_SELECT_POLICY_DESCRIPTION: Final = (
    "Which policy wins when several apply: Max allows the largest change, Min the smallest, Disabled "
    "forbids changes in this direction. Default: Max."
)
_COOLDOWN_DESCRIPTION: Final = (
    "Seconds after a scaling action in this direction before the next one, 0-86400. Default: 0."
)


class ScalingRules(ApiModel):
    """Rate limits for one direction of scaling. Fields common to both directions."""

    stabilization_window_seconds: int
    policies: list[RatePolicy]
    select_policy: Literal["Max", "Min", "Disabled"] = Field(
        default="Max", description=_SELECT_POLICY_DESCRIPTION
    )
    cooldown_seconds: int = Field(default=0, ge=0, le=86400, description=_COOLDOWN_DESCRIPTION)


class ScaleUpRules(ScalingRules):
    """Scale-up limits. Defaults match the HPA: no stabilization, up by max(100%, 4 pods) per 15 s."""

    stabilization_window_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description="Seconds of past recommendations considered before adding replicas, 0-3600; the "
        "lowest recommendation in the window wins. Default: 0.",
    )
    policies: list[RatePolicy] = Field(
        default_factory=lambda: _rate_policies(*_SCALE_UP_POLICIES),
        min_length=1,
        max_length=8,
        description="Limits on replicas added per period; setting this replaces the whole default list. "
        "Default: 100 Percent and 4 Pods per 15 s (with selectPolicy Max: whichever adds more).",
        json_schema_extra=k8s(default=[policy.to_wire() for policy in _rate_policies(*_SCALE_UP_POLICIES)]),
    )


class ScaleDownRules(ScalingRules):
    """Scale-down limits. Defaults match the HPA: 300 s stabilization, down by 100% per 15 s."""

    stabilization_window_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="Seconds of past recommendations considered before removing replicas, 0-3600; the "
        "highest recommendation in the window wins. Default: 300.",
    )
    policies: list[RatePolicy] = Field(
        default_factory=lambda: _rate_policies(*_SCALE_DOWN_POLICIES),
        min_length=1,
        max_length=8,
        description="Limits on replicas removed per period; setting this replaces the whole default list. "
        "Default: 100 Percent per 15 s.",
        json_schema_extra=k8s(default=[policy.to_wire() for policy in _rate_policies(*_SCALE_DOWN_POLICIES)]),
    )


class Behavior(ApiModel):
    """How fast replicas may change in each direction."""

    scale_up: ScaleUpRules = object_field(
        ScaleUpRules,
        "Limits on adding replicas. Default: no stabilization, up by max(100%, 4 pods) per 15 s.",
    )
    scale_down: ScaleDownRules = object_field(
        ScaleDownRules, "Limits on removing replicas. Default: 300 s stabilization, 100% per 15 s."
    )


class Predictive(ApiModel):
    """Forecast-driven scaling: capacity sized to a chosen risk of falling short, ahead of the load."""

    enabled: bool = Field(
        default=False,
        description="Scale ahead of forecast load. While the forecast steers (six hours of history and "
        "a recent error within maxForecastError), replicas = max(ceil(demand now / capacity), "
        "ceil((forecast peak over leadTimeSeconds + headroom) / capacity)) at full capacity per replica "
        "(for CPU and Memory the pod's request, for a Prometheus metric its targetPerReplica): the "
        "headroom, calibrated on the forecast's own recent errors, replaces the target utilization's "
        "spare capacity. Otherwise scaling is the reactive algorithm at the target, and the Predictive "
        "condition says why. Default: false.",
    )
    target_shortfall_percent: float = Field(
        default=0.5,
        gt=0,
        le=50,
        description="The share of time, in percent (greater than 0, at most 50), that demand may exceed "
        "the ready replicas' full capacity while the forecast steers: the headroom is the least at which "
        "the forecast's own recent forecasts would have fallen short no more often. Lower is safer and "
        "dearer. Default: 0.5.",
    )
    lookback_hours: int = Field(
        default=336,
        ge=48,
        le=2160,
        description="Hours of metric history the forecast learns from, 48-2160 (90 days). Default: 336 "
        "(14 days).",
    )
    lead_time_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How far ahead to scale, in seconds (0-3600): the time a new pod takes to start and "
        "become ready. While the forecast steers, the scale-down stabilization window is also cut to this, "
        "because the forecast says whether the load comes back within it. Default: 300.",
    )
    seasonality: Literal["Auto", "Daily", "Weekly", "None"] = Field(
        default="Auto",
        description="Periodicity to model. Auto detects a daily or weekly cycle from the data; None "
        "follows the trend only. Default: Auto.",
    )
    max_forecast_error: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="Largest recent forecast error (mean absolute percentage error as a fraction, "
        "0.25 = 25%; greater than 0, at most 10) at which the forecast still steers; above it, scaling is "
        "reactive only. Default: 0.25.",
    )


class Schedule(ApiModel):
    """A recurring time window that sets a floor or a cap on replicas, e.g. nights and weekends."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "has(self.minReplicas) || has(self.maxReplicas)",
                    "a schedule needs minReplicas, maxReplicas or both",
                ),
                cel(
                    "!has(self.minReplicas) || !has(self.maxReplicas)"
                    " || self.minReplicas <= self.maxReplicas",
                    "schedule minReplicas must be less than or equal to its maxReplicas",
                    ".minReplicas",
                ),
                cel(
                    "self.start != self.end",
                    "schedule end must differ from start; a window across midnight ends before it "
                    "starts (e.g. 20:00 to 06:00)",
                    ".end",
                ),
            ]
        )
    )

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="Name of the window, unique within the policy, e.g. nights: a DNS-1123 label (lower "
        "case alphanumerics and '-', at most 63 characters).",
    )
    time_zone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        pattern=TIME_ZONE_PATTERN,
        description="IANA time zone the times are in, e.g. Europe/Berlin: "
        f"{TIME_ZONE_DESCRIPTION} Default: UTC.",
    )
    days: list[Weekday] = Field(
        default_factory=lambda: list(ALL_WEEKDAYS),
        min_length=1,
        max_length=7,
        description="Days on which the window starts (Mon..Sun). Default: every day.",
        json_schema_extra=k8s(list_type="set", default=ALL_WEEKDAYS),
    )
    start: Annotated[str, StringConstraints(pattern=CLOCK_PATTERN, max_length=5)] = Field(
        description='Start of the window, "HH:MM" in 24-hour time.',
    )
    end: Annotated[str, StringConstraints(pattern=CLOCK_PATTERN, max_length=5)] = Field(
        description='End of the window, "HH:MM" in 24-hour time; earlier than start means the next day.',
    )
    min_replicas: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Floor on replicas inside the window (still within the policy's min/max), 0-100000.",
    )
    max_replicas: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Cap on replicas inside the window (still within the policy's min/max), 0-100000.",
    )


class Horizontal(ApiModel):
    """Replica scaling, with the HPA's algorithm and defaults unless said otherwise."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "self.minReplicas <= self.maxReplicas",
                    "minReplicas must be less than or equal to maxReplicas",
                    ".minReplicas",
                )
            ]
        )
    )

    min_replicas: int = Field(
        default=1,
        ge=1,
        le=MAX_REPLICAS,
        description="Fewest replicas the operator sets, 1-100000; never scaled below this. Default: 1.",
    )
    max_replicas: int = Field(
        ge=1,
        le=MAX_REPLICAS,
        description="Most replicas the operator sets, 1-100000; never scaled above this.",
    )
    metrics: list[Metric] = Field(
        default_factory=list,
        max_length=8,
        description="Signals to follow, at most 8; the highest replica count any of them asks for wins. "
        "Empty: CPU at 80% of requests, like the HPA.",
    )
    tolerance: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="No change while metric/target is within 1 +/- tolerance; 0-1. Default: 0.1.",
    )
    behavior: Behavior = object_field(Behavior, "Rate limits for scaling up and down.")
    predictive: Predictive = object_field(
        Predictive, "Forecast-driven scale-up ahead of load. Disabled by default."
    )
    schedules: list[Schedule] = Field(
        default_factory=list,
        max_length=16,
        description="Time windows that set a replica floor or cap. Where windows overlap, the highest "
        "floor and the lowest cap apply.",
        json_schema_extra=k8s(list_type="map", map_keys=["name"]),
    )


class CpuPolicy(ApiModel):
    """How the CPU request is derived from usage history."""

    percentile: float = Field(
        default=95,
        gt=0,
        le=100,
        description="Percentile of CPU usage the request covers, 0 < p <= 100 (100 = the maximum). "
        "Default: 95.",
    )
    buffer_percent: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Headroom added on top of the percentile, in percent. Default: 0.",
    )


class MemoryPolicy(ApiModel):
    """How the memory request is derived from usage history."""

    percentile: float = Field(
        default=100,
        gt=0,
        le=100,
        description="Percentile of memory usage the request covers, 0 < p <= 100 (100 = the maximum). "
        "Default: 100.",
    )
    buffer_percent: int = Field(
        default=15,
        ge=0,
        le=1000,
        description="Headroom added on top of the percentile, in percent. Default: 15.",
    )


class OomBump(ApiModel):
    """Memory raise after an OOM kill: the larger of used + minIncrease and used x multiplier."""

    min_increase: Quantity = Field(
        default="100Mi",
        description="Smallest memory increase after an OOM kill, a quantity of at most 64Ti. "
        'Default: "100Mi".',
        json_schema_extra=k8s(
            rules=[
                cel(
                    _quantity_within("self", MAX_CONTAINER_MEMORY),
                    f"minIncrease must be at most {MAX_CONTAINER_MEMORY}",
                )
            ]
        ),
    )
    multiplier: float = Field(
        default=1.2,
        ge=1,
        le=10,
        description="Factor applied to the memory in use at the OOM kill, 1-10. Default: 1.2.",
    )


class Vertical(ApiModel):
    """Right-sizing of container requests (and optionally limits) from usage percentiles."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    _quantity_at_most(res),
                    f"minAllowed.{res} must be less than or equal to maxAllowed.{res}",
                    f".minAllowed.{res}",
                )
                for res in ("cpu", "memory")
            ]
        )
    )

    containers: list[
        Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
    ] = Field(
        default_factory=list,
        max_length=32,
        description="Names of the containers to right-size (DNS-1123 labels, as Kubernetes names "
        "containers), at most 32. Empty: every container of the pod template.",
        json_schema_extra=k8s(list_type="set"),
    )
    history_hours: int = Field(
        default=336,
        ge=3,
        le=2160,
        description="Hours of usage history the percentiles are taken over, 3-2160 (90 days). No "
        "recommendation is made from less than 3 hours of data. Default: 336 (14 days).",
    )
    cpu: CpuPolicy = object_field(CpuPolicy, "CPU request policy. Default: the 95th percentile, no buffer.")
    memory: MemoryPolicy = object_field(MemoryPolicy, "Memory request policy. Default: the maximum plus 15%.")
    min_allowed: ResourceList | None = Field(
        default=None,
        description="Lowest request recommended per container; cpu at most 4096 cores, memory at most "
        "64Ti. Unset resources: no lower bound.",
        json_schema_extra=k8s(rules=_container_bounds("minAllowed")),
    )
    max_allowed: ResourceList | None = Field(
        default=None,
        description="Highest request recommended per container; cpu at most 4096 cores, memory at most "
        "64Ti. Unset resources: no upper bound.",
        json_schema_extra=k8s(rules=_container_bounds("maxAllowed")),
    )
    controlled_values: Literal["RequestsOnly", "RequestsAndLimits"] = Field(
        default="RequestsOnly",
        description="RequestsOnly changes requests and leaves limits alone. RequestsAndLimits also "
        "scales each limit to keep its original ratio to the request. Default: RequestsOnly.",
    )
    min_change_percent: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Smallest change in percent worth applying, 0-100; smaller differences are ignored "
        "to avoid restarting pods for little gain. Default: 10.",
    )
    oom_bump: OomBump = object_field(
        OomBump, "Memory raise after an OOM kill. Default: the larger of +100Mi and x1.2."
    )
    cooldown_seconds: int = Field(
        default=21600,
        ge=0,
        le=2592000,
        description="In Apply mode, the least time between two resource changes of the workload, in "
        "seconds (0-2592000, 30 days); each change rolls its pods, so changes stay rare. An OOM kill "
        "skips the wait for a memory raise. Default: 21600 (6 hours).",
    )


class Placement(ApiModel):
    """This workload's spot/on-demand mix, over the CostPolicy's spot section. In Apply mode new pods
    are sent to the capacity type that keeps the mix (a mutating webhook on pod creation), and a drift
    is corrected one eviction at a time; Recommend mode shows the mix and places nothing."""

    enabled: bool = Field(
        default=True, description="false: this workload's pods are never placed by Thrifty. Default: true."
    )
    target_percent: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Percent of the replicas above onDemandBase to run on spot, 0-100. Unset: the "
        "CostPolicy's spot.targetPercent.",
    )
    on_demand_base: int | None = Field(
        default=None,
        ge=0,
        le=100000,
        description="Replicas that always run on on-demand capacity, 0-100000. Unset: the CostPolicy's "
        "spot.onDemandBase.",
    )


class ScalingPolicySpec(ApiModel):
    """Desired scaling and right-sizing of one workload."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "has(self.horizontal) || has(self.vertical)",
                    "set horizontal, vertical or both; a policy without either does nothing",
                )
            ]
        )
    )

    target_ref: TargetRef = Field(description="The Deployment or StatefulSet this policy manages.")
    mode: Literal["Recommend", "Apply"] = Field(
        default="Recommend",
        description="Recommend writes decisions to status only. Apply also changes the workload's "
        "replicas and container resources (field manager thrifty). Default: Recommend.",
    )
    priority: int = Field(
        default=0,
        ge=-1000,
        le=1000,
        description="Importance relative to other workloads under the same ResourceBudget, -1000 to "
        "1000: with enforcement ScaleDown, the lowest priority is scaled down first. Default: 0.",
    )
    horizontal: Horizontal | None = Field(
        default=None,
        description="Replica scaling. Unset: replicas are left alone.",
    )
    vertical: Vertical | None = Field(
        default=None,
        description="Request right-sizing. Unset: container resources are left alone. With "
        "horizontal scaling on a CPU metric as well, CPU requests and replicas are one decision: the "
        "pod's CPU request is the cheapest over the usage history at the replicas the CPU target asks "
        "for at it, never below the vertical percentile and never above today's request or that "
        "percentile's, whichever is higher; memory is right-sized on its own. The replicas are "
        "recommended at those requests, and in Apply mode a resize and the replicas for the new "
        "requests are set in the same evaluation.",
    )
    placement: Placement | None = Field(
        default=None,
        description="Spot/on-demand placement of the workload's pods. Unset: the CostPolicy's spot "
        "section alone decides (and without one, nothing is placed).",
    )


# ----- status -----


class Utilization(ApiModel):
    """Observed average utilization across the workload's pods."""

    cpu_percent: float | None = Field(default=None, description="Average CPU usage in percent of requests.")
    memory_percent: float | None = Field(
        default=None, description="Average memory usage in percent of requests."
    )


class ContainerRecommendation(ApiModel):
    """Current and recommended resources of one container."""

    name: str = Field(description="Container name.")
    current: ResourceRequirements | None = Field(
        default=None, description="Requests and limits in the pod template now."
    )
    recommended: ResourceRequirements | None = Field(
        default=None, description="Requests and limits the operator recommends."
    )
    reason: str | None = Field(default=None, description="Why, in a sentence (percentile, buffer, bounds).")


class Recommendation(ApiModel):
    """What the operator would set, or did set in Apply mode."""

    replicas: int | None = Field(
        default=None,
        description="Recommended replica count, at the recommended requests when they are paired "
        "(see spec.vertical).",
    )
    containers: list[ContainerRecommendation] = Field(
        default_factory=list,
        description="Per-container requests and limits, current and recommended, as quantities.",
        json_schema_extra=k8s(list_type="map", map_keys=["name"]),
    )
    reason: str | None = Field(default=None, description="Why this replica count, in a sentence.")
    generated_at: DateTime | None = Field(
        default=None, description="When the recommended replicas or resources last changed, RFC 3339."
    )


class Forecast(ApiModel):
    """The load forecast behind predictive scaling."""

    peak_replicas: int | None = Field(
        default=None, description="Replicas needed at the forecast peak within the lead time."
    )
    peak_at: DateTime | None = Field(
        default=None, description="When the forecast peak is expected, RFC 3339."
    )
    recent_error: float | None = Field(
        default=None,
        description="Recent forecast error as a fraction (mean absolute percentage error, 0.1 = 10%).",
    )
    seasonality: str | None = Field(default=None, description="Detected cycle: Daily, Weekly or None.")
    steering: bool | None = Field(
        default=None,
        description="True while the forecast is accurate enough (recentError <= maxForecastError) to steer.",
    )
    metric: str | None = Field(default=None, description="The metric forecast, e.g. cpu.")
    reason: str | None = Field(default=None, description="How the forecast was made, in a sentence.")


class DesiredReplicas(ApiModel):
    """One desired replica count the stabilization windows remember."""

    time: DateTime = Field(description="When it was last desired, RFC 3339.")
    replicas: int = Field(description="The desired replica count before stabilization and limits.")


class ScaleChange(ApiModel):
    """One change of replicas the rate policies and cooldowns remember."""

    time: DateTime = Field(description="When replicas changed, RFC 3339.")
    from_replicas: int = Field(description="Replicas before the change.")
    to_replicas: int = Field(description="Replicas after the change.")


class ScalingHistory(ApiModel):
    """What the horizontal algorithm remembers between evaluations, so a restart resumes exactly."""

    desired: list[DesiredReplicas] = Field(
        default_factory=list,
        description="Desired counts within the longest stabilization window; of equal counts, the newest.",
    )
    changes: list[ScaleChange] = Field(
        default_factory=list,
        description="Replica changes within the longest rate-policy period or cooldown.",
    )


class Cost(ApiModel):
    """Monthly cost of the workload's requests at the CostPolicy's prices."""

    monthly_current: float | None = Field(
        default=None,
        description="Monthly cost of the replicas at their current requests, each pod at the rates of the "
        "node it runs on now (spot or on-demand, catalog or default rates).",
    )
    monthly_recommended: float | None = Field(
        default=None,
        description="Monthly cost at the recommended requests, at the recommended replicas when CPU "
        "requests are paired with them (see spec.vertical), else at today's; for a workload placement "
        "steers, at its target spot/on-demand mix (each pod at the mean rates of the cluster's nodes "
        "of its type).",
    )
    monthly_savings: float | None = Field(
        default=None,
        description="monthlyCurrent - monthlyRecommended: what applying the recommendation saves; "
        "negative when the workload grows, or when today's replicas fall short of the target.",
    )
    monthly_spot_savings: float | None = Field(
        default=None,
        description="What the pods the spot/on-demand mix puts on spot save a month at the recommended "
        "size: (on-demand - spot price of their requests) x hours per month, at the mean rates of the "
        "cluster's nodes of each capacity type. Set while placement considers the workload "
        "(status.placement, SpotPlacement Placed, Placing, Fallback or Recommended).",
    )
    monthly_spot_savings_risk_weighted: float | None = Field(
        default=None,
        description="monthlySpotSavings x (1 - risk), where risk is the mean interruption risk of the "
        "cluster's spot nodes, from the CostPolicy catalog's interruptionFrequency of their instance "
        "types. Unset when some spot node's interruption frequency is unknown; spotRisk says which.",
    )
    spot_risk: str | None = Field(
        default=None,
        description="The interruption risk behind monthlySpotSavingsRiskWeighted and where it comes from, "
        'e.g. "risk 5-10% (0.10) from m5.large", or why it is unknown, e.g. "interruption frequency '
        'unknown for instance types m5.xlarge".',
    )
    currency: str | None = Field(default=None, description="Currency of the amounts, e.g. USD.")


class LastAction(ApiModel):
    """The most recent change the operator made to the workload (Apply mode)."""

    time: DateTime | None = Field(default=None, description="When the change was made, RFC 3339.")
    action: str | None = Field(default=None, description="What changed: ScaleUp, ScaleDown or Resize.")
    from_: str | None = Field(
        default=None,
        # validation/serialization aliases instead of `alias`, so that Python code can pass `from_=`.
        validation_alias="from",
        serialization_alias="from",
        description='Value before the change, e.g. "3" or "cpu 500m".',
    )
    to: str | None = Field(default=None, description='Value after the change, e.g. "5" or "cpu 250m".')
    reason: str | None = Field(default=None, description="Why the change was made.")


class Summary(ApiModel):
    """Short strings for `kubectl get` columns."""

    cpu: str | None = Field(default=None, description='CPU requests now and recommended, e.g. "500m→250m".')
    memory: str | None = Field(
        default=None, description='Memory requests now and recommended, e.g. "1Gi→640Mi".'
    )
    savings: str | None = Field(default=None, description='Monthly savings with currency, e.g. "12.40 USD".')


class PlacementStatus(ApiModel):
    """Where the workload's pods run, by capacity type, and the mix they are steered to."""

    target_on_demand: int | None = Field(default=None, description="Pods the mix puts on on-demand.")
    target_spot: int | None = Field(default=None, description="Pods the mix puts on spot.")
    on_demand: int | None = Field(default=None, description="Pods on (or sent to) on-demand capacity now.")
    spot: int | None = Field(default=None, description="Pods on (or sent to) spot capacity now.")
    unplaced: int | None = Field(
        default=None,
        description="Pods waiting for a node with no capacity type chosen (created while "
        "Thrifty was not answering).",
    )
    spot_percent: int | None = Field(
        default=None, description="Percent of the placed pods on spot now, for kubectl get."
    )
    fallback_since: DateTime | None = Field(
        default=None,
        description="Set while the spot pods run on on-demand because spot capacity did not take them, "
        "RFC 3339: spot is tried again spot.fallback.returnAfterSeconds after it.",
    )
    last_action: LastAction | None = Field(
        default=None,
        description="The last placement change: Move (one pod evicted to be created on the other type), "
        "ReplacePending (spot pods waiting for a node deleted in a fallback), Fallback or Return.",
    )


class ScalingPolicyStatus(ApiModel):
    """What the operator observed and decided. Written by the operator only."""

    observed_generation: int | None = Field(
        default=None, description="metadata.generation the status was computed for."
    )
    conditions: list[Condition] = conditions_field(
        "Ready (the policy is evaluated; False with the reason of what stops it, e.g. TargetNotFound, "
        "NoData, PrometheusUnavailable, or Conflict in Apply mode), TargetFound, ContainersFound, "
        "MetricsAvailable (usage history could be read), Recommendation (Recommended, Unchanged or "
        "InsufficientHistory), Conflict (an HPA on CPU/memory or an updating VPA sizes the same workload), "
        "BudgetLimited (a ResourceBudget holds scale-up back), SpotPlacement (Placed, Placing, Fallback, "
        "NotEligible, Recommended or NotConfigured), "
        "ForecastActive (predictive scaling is steering)."
    )
    current_replicas: int | None = Field(default=None, description="Replicas of the workload now.")
    current_utilization: Utilization | None = Field(
        default=None, description="Average utilization over the last evaluation window."
    )
    recommendation: Recommendation | None = Field(default=None, description="The latest recommendation.")
    forecast: Forecast | None = Field(default=None, description="The latest forecast, if predictive is on.")
    cost: Cost | None = Field(default=None, description="Monthly cost now and at the recommendation.")
    last_action: LastAction | None = Field(default=None, description="The last change made in Apply mode.")
    last_resize: LastAction | None = Field(
        default=None,
        description="The last change of requests made in Apply mode; the next waits "
        "spec.vertical.cooldownSeconds from it, whatever scales came after.",
    )
    pending_action: LastAction | None = Field(
        default=None,
        description="A change recorded here just before it is made, and cleared in the same status write "
        "that records its outcome. After a crash between the two, the restarted operator finds it: if "
        "the workload shows the change, it is recorded as done (lastAction, scalingHistory, an Event); "
        "if not, it never happened. Either way nothing is lost and nothing is done twice.",
    )
    scaling_history: ScalingHistory | None = Field(
        default=None, description="State of the horizontal algorithm (stabilization, rate limits, cooldowns)."
    )
    summary: Summary | None = Field(default=None, description="Short strings shown by kubectl get.")
    placement: PlacementStatus | None = Field(
        default=None, description="Spot/on-demand placement: the pods by capacity type and the target mix."
    )


class ScalingPolicy(ApiModel):
    """A whole ScalingPolicy object as read from the cluster."""

    api_version: str = Field(default=API_VERSION, description=f"{API_VERSION}.")
    kind: Literal["ScalingPolicy"] = Field(default="ScalingPolicy", description="ScalingPolicy.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Object metadata.")
    spec: ScalingPolicySpec = Field(description="Desired behaviour.")
    status: ScalingPolicyStatus | None = Field(default=None, description="Observed state.")
