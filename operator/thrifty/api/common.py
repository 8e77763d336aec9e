"""Models shared by the three resources: the base model, conditions, references, selectors, quantities.

Every field carries a description because `thrifty crds` turns these models into the CRD schemas and
`kubectl explain` shows the descriptions. Validation that must reject bad manifests lives in the CRD
(schema bounds and CEL rules attached through `json_schema_extra`); pydantic only parses what the
apiserver already accepted, so it ignores unknown fields instead of failing on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

# A non-negative Kubernetes quantity ("500m", "1.5Gi", "2"); the apimachinery grammar without a sign,
# because every quantity in this API is an amount of a resource.
QUANTITY_PATTERN: Final = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# Quantities are short: a longer string is a mistake, and the bound keeps CEL cost estimates small.
QUANTITY_MAX_LENGTH: Final = 64
_DNS_SUBDOMAIN: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
# A DNS-1123 subdomain: the names of Deployments, StatefulSets, Secrets and node pools.
DNS_SUBDOMAIN_PATTERN: Final = rf"^{_DNS_SUBDOMAIN}$"
# A DNS-1123 label: namespace names.
DNS_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A wall-clock time "HH:MM", 24-hour.
CLOCK_PATTERN: Final = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# An ISO 4217 currency code; prices are never converted, so codes only need to match each other.
CURRENCY_PATTERN: Final = r"^[A-Z]{3}$"
# A label key: optional DNS-subdomain prefix (at most 253 characters) and "/", then a name of at most
# 63 characters; a label value is such a name or empty. The syntax of apimachinery's IsQualifiedName
# and IsValidLabelValue, so a selector that Kubernetes would refuse is refused here too.
LABEL_KEY_MAX_LENGTH: Final = 317
LABEL_PREFIX_MAX_LENGTH: Final = 253
LABEL_VALUE_MAX_LENGTH: Final = 63
_LABEL_NAME: Final = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY_PATTERN: Final = rf"^({_DNS_SUBDOMAIN}/)?{_LABEL_NAME}$"
LABEL_VALUE_PATTERN: Final = rf"^({_LABEL_NAME})?$"
_LABEL_KEY_SYNTAX: Final = (
    "an optional DNS subdomain prefix of at most 253 characters and '/', then a name of 1-63 "
    "alphanumerics, '-', '_' or '.' that starts and ends alphanumeric, e.g. app.kubernetes.io/name"
)
_LABEL_VALUE_SYNTAX: Final = "empty, or 1-63 alphanumerics, '-', '_' or '.' that start and end alphanumeric"
# A key of a Secret's data, as Kubernetes allows it.
SECRET_KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"
# An IANA time zone: a single name (UTC, CET, Japan, ...) or Area/Location[/Sub] in one of the tz
# database's areas. The areas are fixed by tz policy, so this never refuses a real zone, while a
# made-up area (Mars/Olympus_Mons) fails at admission instead of in every reconcile.
TIME_ZONE_PATTERN: Final = (
    r"^([A-Za-z][-+_A-Za-z0-9]*|(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Brazil|"
    r"Canada|Chile|Etc|Europe|Indian|Mexico|Pacific|US)(/[A-Za-z0-9][-+_A-Za-z0-9]*){1,2})$"
)
TIME_ZONE_DESCRIPTION: Final = (
    "UTC, another single IANA name (e.g. CET), or Area/Location where Area is one of Africa, America, "
    "Antarctica, Arctic, Asia, Atlantic, Australia, Brazil, Canada, Chile, Etc, Europe, Indian, Mexico, "
    "Pacific, US."
)
# The largest price per unit-hour (vCPU-hour, GiB-hour, GPU-hour, instance-hour) the API takes. Real
# prices are below 1000; the bound keeps every cost the engine multiplies out finite.
MAX_PRICE: Final = 1e6

Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class ApiModel(BaseModel):
    """Base of every API model: snake_case in Python, camelCase on the wire, tolerant when reading."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON form for the apiserver: camelCase, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """One `x-kubernetes-validations` entry. The apiserver prints `message` after the field path."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def k8s(
    *,
    rules: Sequence[dict[str, str]] = (),
    list_type: Literal["atomic", "set", "map"] | None = None,
    map_keys: Sequence[str] = (),
    default: Any = None,
) -> JsonDict:
    """Kubernetes-only schema keywords for `json_schema_extra`; crdgen copies them verbatim."""
    extra: JsonDict = {}
    if rules:
        extra["x-kubernetes-validations"] = [dict(rule) for rule in rules]
    if list_type is not None:
        extra["x-kubernetes-list-type"] = list_type
    if map_keys:
        extra["x-kubernetes-list-map-keys"] = list(map_keys)
    if default is not None:
        extra["default"] = default
    return extra


def object_field(factory: Callable[[], ApiModel], description: str) -> Any:
    """A sub-object that is always there: pydantic builds it from its defaults, and the CRD defaults it
    to `{}` so the apiserver fills in (and `kubectl get -o yaml` shows) every nested default."""
    return Field(default_factory=factory, description=description, json_schema_extra=k8s(default={}))


def label_key_rules(subject: str) -> list[dict[str, str]]:
    """CEL for a label key string: the prefix length, which a regular expression cannot bound."""
    return [
        cel(
            f"self.indexOf('/') <= {LABEL_PREFIX_MAX_LENGTH}",
            f"{subject}: the prefix before '/' must be at most {LABEL_PREFIX_MAX_LENGTH} characters",
        )
    ]


def label_map_rules(subject: str) -> list[dict[str, str]]:
    """CEL for a map from label keys to label values (`matchLabels`): the schema can only constrain
    values, so the keys are checked here with the same syntax as a label key field."""
    return [
        cel(
            f"self.all(key, key.matches(r'{LABEL_KEY_PATTERN}')"
            f" && key.indexOf('/') <= {LABEL_PREFIX_MAX_LENGTH})",
            f"{subject} keys must be label keys: {_LABEL_KEY_SYNTAX}",
        )
    ]


def rfc3339(moment: datetime) -> str:
    """A timestamp as Kubernetes writes it: UTC, whole seconds, `Z` suffix."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# A Kubernetes quantity, as an integer or a string, exactly like `resources.requests` in a pod spec.
# The JSON schema is spelled out because pydantic's own union schema is not structural; `minimum`
# refuses a negative integer, which the string pattern cannot see.
Quantity = Annotated[
    Annotated[int, Field(ge=0)]
    | Annotated[str, StringConstraints(pattern=QUANTITY_PATTERN, max_length=QUANTITY_MAX_LENGTH)],
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "maxLength": QUANTITY_MAX_LENGTH,
            "minimum": 0,
        }
    ),
]

# Label keys and values in lists and fields (map keys go through `label_map_rules`).
LabelKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=LABEL_KEY_MAX_LENGTH, pattern=LABEL_KEY_PATTERN),
    Field(json_schema_extra=k8s(rules=label_key_rules("label key"))),
]
LabelValue = Annotated[str, StringConstraints(max_length=LABEL_VALUE_MAX_LENGTH, pattern=LABEL_VALUE_PATTERN)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE)]

DateTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Condition(ApiModel):
    """One observation of the object's state, in the standard Kubernetes condition shape."""

    type: str = Field(
        description="Condition type in CamelCase, e.g. Ready. Each type appears at most once.",
        min_length=1,
        max_length=316,
    )
    status: Literal["True", "False", "Unknown"] = Field(
        description="Whether the condition holds: True, False or Unknown.",
    )
    reason: str = Field(
        default="",
        max_length=1024,
        description="Machine-readable CamelCase reason for the last transition, e.g. MetricsUnavailable.",
    )
    message: str = Field(
        default="",
        max_length=32768,
        description="Human-readable details about the last transition.",
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="metadata.generation of the object when this condition was set; older than the "
        "current generation means the condition may be stale.",
    )
    last_transition_time: DateTime = Field(
        description="When status last changed, RFC 3339 in UTC (e.g. 2025-01-31T12:00:00Z).",
    )


def conditions_field(types: str) -> Any:
    """The `conditions` list of a status, merged by `type` so that writers can patch one condition."""
    return Field(
        default_factory=list,
        max_length=32,
        description=f"Current state as standard Kubernetes conditions, one per type. Types: {types}",
        json_schema_extra=k8s(list_type="map", map_keys=["type"]),
    )


class TargetRef(ApiModel):
    """The workload a ScalingPolicy manages."""

    api_version: Literal["apps/v1"] = Field(
        default="apps/v1",
        description="API version of the workload. Only apps/v1 is supported. Default: apps/v1.",
    )
    kind: Literal["Deployment", "StatefulSet"] = Field(
        description="Kind of the workload: Deployment or StatefulSet.",
    )
    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Name of the workload, in the same namespace as the ScalingPolicy.",
    )


class LabelSelectorRequirement(ApiModel):
    """One set-based label requirement, as in a Kubernetes label selector."""

    model_config = ConfigDict(
        json_schema_extra=k8s(
            rules=[
                cel(
                    "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0)"
                    " : (!has(self.values) || size(self.values) == 0)",
                    "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
                    ".values",
                )
            ]
        )
    )

    key: LabelKey = Field(
        description=f"The label key the requirement applies to: {_LABEL_KEY_SYNTAX}.",
    )
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the key relates to the values: In, NotIn, Exists or DoesNotExist.",
    )
    values: list[LabelValue] | None = Field(
        default=None,
        max_length=64,
        description="Label values, at most 64, each "
        f"{_LABEL_VALUE_SYNTAX}. Required (non-empty) for In and NotIn; must be empty for Exists and "
        "DoesNotExist.",
    )


class LabelSelector(ApiModel):
    """A standard Kubernetes label selector. All requirements are ANDed; an empty selector matches all."""

    match_labels: dict[str, LabelValue] | None = Field(
        default=None,
        max_length=64,
        description="Labels that must all be present with exactly these values; at most 64. Keys are "
        f"label keys ({_LABEL_KEY_SYNTAX}); values are {_LABEL_VALUE_SYNTAX}.",
        json_schema_extra=k8s(rules=label_map_rules("matchLabels")),
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None,
        max_length=16,
        description="Set-based requirements that must all hold.",
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy every requirement, as the API server evaluates a selector."""
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        for requirement in self.match_expressions or []:
            present = requirement.key in labels
            values = requirement.values or []
            held = {
                "In": present and labels.get(requirement.key) in values,
                "NotIn": not present or labels.get(requirement.key) not in values,
                "Exists": present,
                "DoesNotExist": not present,
            }[requirement.operator]
            if not held:
                return False
        return True


class ResourceList(ApiModel):
    """Amounts of CPU and memory as Kubernetes quantities."""

    cpu: Quantity | None = Field(
        default=None,
        description='CPU in cores as a Kubernetes quantity, e.g. "250m" (a quarter core) or 2.',
    )
    memory: Quantity | None = Field(
        default=None,
        description='Memory in bytes as a Kubernetes quantity, e.g. "512Mi" or "1Gi".',
    )


class ResourceRequirements(ApiModel):
    """Requests and limits of one container, like `resources` in a pod spec."""

    requests: ResourceList | None = Field(
        default=None,
        description="Resource requests: what the scheduler reserves and what cost is allocated on.",
    )
    limits: ResourceList | None = Field(
        default=None,
        description="Resource limits: the most the container may use. Absent means no limit.",
    )


class SecretKeyRef(ApiModel):
    """A key in a Secret. Secrets are referenced, never copied into status or logs."""

    namespace: str = Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="Namespace of the Secret.",
    )
    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Name of the Secret.",
    )
    key: str = Field(
        default="url",
        min_length=1,
        max_length=253,
        pattern=SECRET_KEY_PATTERN,
        description="Key within the Secret's data: 1-253 alphanumerics, '-', '_' or '.'. Default: url.",
    )


class ObjectMeta(ApiModel):
    """The parts of metadata the operator reads. Not part of the CRD schema (the apiserver owns it)."""

    name: str = Field(default="", description="Object name.")
    namespace: str | None = Field(default=None, description="Namespace; absent for cluster-scoped kinds.")
    uid: str | None = Field(default=None, description="Unique id assigned by the apiserver.")
    generation: int | None = Field(default=None, description="Spec generation, bumped on each spec change.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")
    creation_timestamp: str | None = Field(default=None, description="Creation time, RFC 3339.")
