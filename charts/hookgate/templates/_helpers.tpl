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
The Secret with the NATS token: the user's, or the one the manager creates.
Empty when a credentials file is used instead.
*/}}
{{- define "hookgate.natsTokenSecret" -}}
{{- if .Values.nats.auth.existingSecret }}
{{- .Values.nats.auth.existingSecret }}
{{- else if and (include "hookgate.embeddedNats" .) (not .Values.nats.auth.allowUnauthenticated) }}
{{- printf "%s-nats-auth" (include "hookgate.fullname" .) }}
{{- end }}
{{- end }}

{{/*
NATS authentication: environment of both containers. Call with $.
*/}}
{{- define "hookgate.natsEnv" -}}
{{- with include "hookgate.natsTokenSecret" . }}
- name: HOOKGATE_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.nats.auth.secretKey }}
{{- end }}
{{- end }}

{{/*
NATS authentication: flags of both containers. Call with $.
*/}}
{{- define "hookgate.natsArgs" -}}
{{- if .Values.nats.auth.credsSecret }}
- --nats-creds=/etc/hookgate/nats-creds/{{ .Values.nats.auth.credsKey }}
{{- end }}
{{- if .Values.nats.tls.secret }}
- --nats-tls-ca=/etc/hookgate/nats-tls/ca.crt
{{- if .Values.nats.tls.mutual }}
- --nats-tls-cert=/etc/hookgate/nats-tls/tls.crt
- --nats-tls-key=/etc/hookgate/nats-tls/tls.key
{{- end }}
{{- end }}
{{- if .Values.nats.auth.allowUnauthenticated }}
- --nats-allow-unauthenticated
{{- end }}
{{- end }}

{{/*
NATS authentication: volumes and mounts of both containers.
*/}}
{{- define "hookgate.natsVolumes" -}}
{{- if .Values.nats.auth.credsSecret }}
- name: nats-creds
  secret:
    secretName: {{ .Values.nats.auth.credsSecret }}
{{- end }}
{{- if .Values.nats.tls.secret }}
- name: nats-tls
  secret:
    secretName: {{ .Values.nats.tls.secret }}
{{- end }}
{{- end }}
{{- define "hookgate.natsVolumeMounts" -}}
{{- if .Values.nats.auth.credsSecret }}
- name: nats-creds
  mountPath: /etc/hookgate/nats-creds
  readOnly: true
{{- end }}
{{- if .Values.nats.tls.secret }}
- name: nats-tls
  mountPath: /etc/hookgate/nats-tls
  readOnly: true
{{- end }}
{{- end }}

{{/*
Fail early on combinations that cannot work.
*/}}
{{- define "hookgate.validate" -}}
{{- if and .Values.receiver.trustedProxies .Values.networkPolicy.enabled (not .Values.networkPolicy.proxiedFrom) }}
{{- fail "receiver.trustedProxies needs networkPolicy.proxiedFrom (the ingress controller's pods): otherwise any pod in the trusted range can reach the proxied port and choose its own X-Forwarded-For" }}
{{- end }}
{{- if and (not (include "hookgate.embeddedNats" .)) (not .Values.nats.auth.existingSecret) (not .Values.nats.auth.credsSecret) (not .Values.nats.auth.allowUnauthenticated) }}
{{- fail "an external NATS cluster needs credentials: set nats.auth.existingSecret (token) or nats.auth.credsSecret, or nats.auth.allowUnauthenticated=true" }}
{{- end }}
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

{{/*
The manager's validating admission webhook: the name of its
ValidatingWebhookConfiguration (cluster-scoped) and of its Service.
*/}}
{{- define "hookgate.webhookName" -}}
{{- printf "%s-webhook" (include "hookgate.fullname" .) }}
{{- end }}
