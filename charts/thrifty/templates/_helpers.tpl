{{/*
Names. The fullname is the release name when it already contains the chart's name ("thrifty"),
else "<release>-thrifty", cut to the 63 characters a label value allows.
*/}}
{{- define "thrifty.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thrifty.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "thrifty.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thrifty.selectorLabels" -}}
app.kubernetes.io/name: {{ include "thrifty.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "thrifty.labels" -}}
helm.sh/chart: {{ include "thrifty.chart" . }}
{{ include "thrifty.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: thrifty
{{- end }}

{{- define "thrifty.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "thrifty.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "thrifty.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "thrifty.metricsServiceName" -}}
{{- printf "%s-metrics" (include "thrifty.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thrifty.webhookServiceName" -}}
{{- printf "%s-webhook" (include "thrifty.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thrifty.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "thrifty.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thrifty.webhookCertificateName" -}}
{{- printf "%s-webhook" (include "thrifty.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name the API server calls the webhook by, and the certificate's subject. */}}
{{- define "thrifty.webhookHost" -}}
{{- printf "%s.%s.svc" (include "thrifty.webhookServiceName" .) .Release.Namespace }}
{{- end }}

{{/* The MutatingWebhookConfiguration the operator writes itself has this fixed name. */}}
{{- define "thrifty.operatorWebhookConfigurationName" -}}
thrifty-pod-placement
{{- end }}

{{/*
Whether an optional kind is rendered: "auto" follows the cluster's API (.Capabilities, which
`helm template` fills only with --api-versions), true and false force it.
*/}}
{{- define "thrifty.enabled" -}}
{{- $setting := index . 0 }}
{{- $available := index . 1 }}
{{- if eq (toString $setting) "auto" }}
{{- if $available }}true{{ end }}
{{- else if $setting }}true
{{- end }}
{{- end }}

{{- define "thrifty.serviceMonitorEnabled" -}}
{{- if .Values.metrics.enabled }}
{{- include "thrifty.enabled" (list .Values.monitoring.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) }}
{{- end }}
{{- end }}

{{- define "thrifty.prometheusRuleEnabled" -}}
{{- include "thrifty.enabled" (list .Values.monitoring.prometheusRule.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule")) }}
{{- end }}

{{/* "certManager" or "chart": where the webhook's serving certificate comes from. */}}
{{- define "thrifty.webhookCertificateSource" -}}
{{- $source := .Values.webhook.certificate.source }}
{{- if eq $source "auto" }}
{{- if .Capabilities.APIVersions.Has "cert-manager.io/v1/Certificate" }}certManager{{ else }}chart{{ end }}
{{- else }}
{{- $source }}
{{- end }}
{{- end }}

{{/* The job label the operator's series carry in Prometheus: the ServiceMonitor's default is the Service's name. */}}
{{- define "thrifty.prometheusJob" -}}
{{- default (include "thrifty.metricsServiceName" .) .Values.monitoring.prometheusRule.job }}
{{- end }}

{{/* Namespaces the namespaced permissions are granted in: none listed means the whole cluster. */}}
{{- define "thrifty.watchNamespaces" -}}
{{- .Values.watchNamespaces | uniq | sortAlpha | toJson }}
{{- end }}

{{/*
Checks across values that the schema cannot express; each failure names the values concerned.
*/}}
{{- define "thrifty.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount above 1 needs leaderElection.enabled=true: without it every replica would act" }}
{{- end }}
{{- $prometheus := .Values.prometheus }}
{{- if and $prometheus.bearerTokenSecret.name $prometheus.bearerTokenFile }}
{{- fail "set either prometheus.bearerTokenSecret.name or prometheus.bearerTokenFile, not both" }}
{{- end }}
{{- if and $prometheus.caSecret.name $prometheus.caConfigMap.name }}
{{- fail "set either prometheus.caSecret.name or prometheus.caConfigMap.name, not both" }}
{{- end }}
{{- if and $prometheus.insecureSkipVerify (or $prometheus.caSecret.name $prometheus.caConfigMap.name) }}
{{- fail "prometheus.insecureSkipVerify=true and a CA (prometheus.caSecret or prometheus.caConfigMap) exclude each other" }}
{{- end }}
{{- range $index, $secret := .Values.budgetWebhookSecrets }}
{{- if not (and $secret.namespace $secret.name) }}
{{- fail (printf "budgetWebhookSecrets[%d] needs both namespace and name" $index) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The webhook's serving certificate when the chart makes it: the one already in the release's Secret
(so upgrades keep it), else a new CA and a certificate it signs for the webhook Service's names.
Made once a render and shared by the Secret, the webhook configuration's caBundle and the
Deployment's checksum, which must all see the same one. Returns the Secret's data as YAML.
*/}}
{{- define "thrifty.webhookCertificate" -}}
{{- if not (hasKey .Values "_webhookCertificateOfThisRender") }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "thrifty.webhookSecretName" .) }}
{{- $existing := dig "data" dict $secret }}
{{- $data := dict }}
{{- if and (hasKey $existing "ca.crt") (hasKey $existing "tls.crt") (hasKey $existing "tls.key") }}
{{- $data = dict "ca.crt" (index $existing "ca.crt") "tls.crt" (index $existing "tls.crt") "tls.key" (index $existing "tls.key") }}
{{- else }}
{{- $service := include "thrifty.webhookServiceName" . }}
{{- $host := include "thrifty.webhookHost" . }}
{{- $days := int .Values.webhook.certificate.validityDays }}
{{- $ca := genCA (printf "%s-ca" $service) $days }}
{{- $names := list $service (printf "%s.%s" $service .Release.Namespace) $host (printf "%s.cluster.local" $host) }}
{{- $certificate := genSignedCert $host nil $names $days $ca }}
{{- $data = dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($certificate.Cert | b64enc) "tls.key" ($certificate.Key | b64enc) }}
{{- end }}
{{- $_ := set .Values "_webhookCertificateOfThisRender" $data }}
{{- end }}
{{- index .Values "_webhookCertificateOfThisRender" | toYaml }}
{{- end }}
