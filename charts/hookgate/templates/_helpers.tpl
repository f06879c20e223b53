{{/*
Chart name.
*/}}
{{- define "hookgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, the prefix of every object. Truncated so that
"<fullname>-receiver-headless" and the StatefulSet pods' labels stay within
Kubernetes name limits.
*/}}
{{- define "hookgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hookgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. Call with (dict "ctx" $ "component" "manager").
*/}}
{{- define "hookgate.labels" -}}
helm.sh/chart: {{ include "hookgate.chart" .ctx }}
{{ include "hookgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: hookgate
{{- end }}

{{/*
Selector labels. Call with (dict "ctx" $ "component" "manager").
*/}}
{{- define "hookgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookgate.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hookgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{- define "hookgate.managerServiceAccountName" -}}
{{- default (printf "%s-manager" (include "hookgate.fullname" .)) .Values.serviceAccount.manager.name }}
{{- end }}

{{- define "hookgate.receiverServiceAccountName" -}}
{{- default (printf "%s-receiver" (include "hookgate.fullname" .)) .Values.serviceAccount.receiver.name }}
{{- end }}

{{/*
"true" when the receiver runs the embedded JetStream.
*/}}
{{- define "hookgate.embeddedNats" -}}
{{- if not .Values.nats.external.url }}true{{ end }}
{{- end }}

{{/*
The NATS URL of the manager: the external cluster, or the receiver's
embedded JetStream through its Service.
*/}}
{{- define "hookgate.natsURL" -}}
{{- if .Values.nats.external.url }}
{{- .Values.nats.external.url }}
{{- else }}
{{- printf "nats://%s-receiver-nats.%s.svc:4222" (include "hookgate.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Restricted Pod Security Standard, shared by both containers.
*/}}
{{- define "hookgate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Fail early on combinations that cannot work.
*/}}
{{- define "hookgate.validate" -}}
{{- if and (include "hookgate.embeddedNats" .) (gt (int .Values.receiver.replicas) 1) }}
{{- fail "receiver.replicas must be 1 with the embedded JetStream; set nats.external.url to run more receivers" }}
{{- end }}
{{- if and (not .Values.manager.leaderElect) (gt (int .Values.manager.replicas) 1) }}
{{- fail "manager.replicas above 1 needs manager.leaderElect=true" }}
{{- end }}
{{- end }}

{{/*
The receiver Service that providers reach and that routes point at.
*/}}
{{- define "hookgate.receiverServiceName" -}}
{{- printf "%s-receiver" (include "hookgate.fullname" .) }}
{{- end }}

{{/*
Public base URL of the routes the manager creates, as the controller derives
it: https with a TLS Secret, a ClusterIssuer or an HTTPRoute, else http.
Empty when route.kind is None or route.host is empty.
*/}}
{{- define "hookgate.routeBaseURL" -}}
{{- $r := .Values.route }}
{{- if and (ne $r.kind "None") $r.host }}
{{- $scheme := "http" }}
{{- if or $r.tlsSecretName $r.clusterIssuer (eq $r.kind "HTTPRoute") }}
{{- $scheme = "https" }}
{{- end }}
{{- printf "%s://%s" $scheme $r.host }}
{{- end }}
{{- end }}

{{/*
PodDisruptionBudget spec body. Call with (dict "pdb" .Values.x.podDisruptionBudget "replicas" .Values.x.replicas).
minAvailable is used only with more than one replica: with one it would
block every node drain.
*/}}
{{- define "hookgate.pdbSpec" -}}
{{- $min := toString (default "" .pdb.minAvailable) }}
{{- if and (ne $min "") (gt (int .replicas) 1) -}}
minAvailable: {{ .pdb.minAvailable }}
{{- else -}}
maxUnavailable: {{ .pdb.maxUnavailable }}
{{- end }}
{{- end }}

{{/*
PromQL label matchers that select this release's receiver metrics.
*/}}
{{- define "hookgate.receiverMetricsSelector" -}}
{{- if .Values.metrics.prometheusRule.selector }}
{{- .Values.metrics.prometheusRule.selector }}
{{- else }}
{{- printf "job=%q,namespace=%q" (printf "%s-receiver-metrics" (include "hookgate.fullname" .)) .Release.Namespace }}
{{- end }}
{{- end }}
