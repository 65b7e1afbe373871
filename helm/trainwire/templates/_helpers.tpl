{{/*
Names and labels. The helpers that the sidecar template uses read only .Values and
.Release, so a parent chart can call them with (dict "Values" .Values.trainwire "Release" .Release).
*/}}
{{- define "trainwire.name" -}}
{{- default "trainwire" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trainwire.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "trainwire.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "trainwire.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trainwire.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end -}}

{{- define "trainwire.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "trainwire.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "trainwire.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "trainwire.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "trainwire.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- end -}}

{{/* The ConfigMap holding the rendered collector config (config.yaml). */}}
{{- define "trainwire.configName" -}}
{{- printf "%s-config" (include "trainwire.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret the chart creates for credentials given as values. */}}
{{- define "trainwire.secretName" -}}
{{- include "trainwire.fullname" . -}}
{{- end -}}

{{/*
An env entry from a Secret: (list $ctx "ENV_NAME" $literal $existingSecret $key $chartKey).
Renders nothing when neither the literal nor an existing Secret is given.
*/}}
{{- define "trainwire.secretEnv" -}}
{{- $ctx := index . 0 -}}
{{- $literal := index . 2 -}}
{{- $existing := index . 3 -}}
{{- if or $literal $existing }}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ $existing | default (include "trainwire.secretName" $ctx) }}
      key: {{ ternary (index . 4) (index . 5) (not (empty $existing)) }}
{{- end -}}
{{- end -}}

{{- define "trainwire.authEnabled" -}}
{{- if or .Values.auth.token .Values.auth.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* Environment of the collector container, shared by every mode. */}}
{{- define "trainwire.env" -}}
{{- include "trainwire.secretEnv" (list . "TRAINWIRE_TOKEN" .Values.auth.token .Values.auth.existingSecret .Values.auth.existingSecretKey "token") }}
{{- if eq .Values.mode "gateway" }}
{{- if .Values.gateway.api.enabled }}
{{- include "trainwire.secretEnv" (list . "TRAINWIRE_API_READ_TOKEN" .Values.gateway.api.readToken .Values.gateway.api.existingSecret .Values.gateway.api.existingSecretKey "api-read-token") }}
{{- end }}
{{- if .Values.discord.enabled }}
{{- include "trainwire.secretEnv" (list . "DISCORD_WEBHOOK_URL" .Values.discord.webhookUrl .Values.discord.existingSecret .Values.discord.existingSecretKey "discord-webhook-url") }}
{{- end }}
{{- end }}
{{- if eq .Values.mode "agent" }}
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end }}
{{- if and (eq .Values.mode "agent") .Values.agent.gpu.enabled }}
# Every GPU of the node, for NVML, without requesting (and so taking) any.
- name: NVIDIA_VISIBLE_DEVICES
  value: all
- name: NVIDIA_DRIVER_CAPABILITIES
  value: utility
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Probes on the health_check extension. */}}
{{- define "trainwire.probes" -}}
livenessProbe:
  httpGet:
    path: /
    port: health
  {{- toYaml .Values.livenessProbe | nindent 2 }}
readinessProbe:
  httpGet:
    path: /
    port: health
  {{- toYaml .Values.readinessProbe | nindent 2 }}
startupProbe:
  httpGet:
    path: /
    port: health
  {{- toYaml .Values.startupProbe | nindent 2 }}
{{- end -}}

{{/* Checks that hold across values; each failure says what to set. */}}
{{- define "trainwire.validate" -}}
{{- if and (eq .Values.mode "agent") (not .Values.agent.gatewayEndpoint) -}}
{{- fail "agent mode needs agent.gatewayEndpoint: the gateway's OTLP/gRPC address, e.g. trainwire-gateway.trainwire.svc:4317" -}}
{{- end -}}
{{- if and (eq .Values.mode "sidecar") (not .Values.sidecar.gatewayEndpoint) -}}
{{- fail "sidecar mode needs sidecar.gatewayEndpoint: the gateway's OTLP/gRPC address, e.g. trainwire-gateway.trainwire.svc:4317" -}}
{{- end -}}
{{- if and .Values.discord.enabled (not (or .Values.discord.webhookUrl .Values.discord.existingSecret)) -}}
{{- fail "discord.enabled needs discord.webhookUrl or discord.existingSecret (a Secret holding the webhook URL under discord.existingSecretKey)" -}}
{{- end -}}
{{- if and .Values.discord.enabled (ne .Values.mode "gateway") -}}
{{- fail "discord is posted by the gateway; set discord.enabled only with mode: gateway" -}}
{{- end -}}
{{- if and .Values.gateway.ingress.enabled (not .Values.gateway.api.enabled) -}}
{{- fail "gateway.ingress routes to the query API and web UI; it needs gateway.api.enabled: true" -}}
{{- end -}}
{{- end -}}
