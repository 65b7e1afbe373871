{{/*
The collector config of each mode, in the OpenTelemetry Collector's format (see
otel-config.yaml at the repository root for every key explained). .Values.config is laid
over it. ${env:...} is expanded by the collector, not by Helm.
*/}}

{{- define "trainwire.config.otlpReceiver" -}}
{{- $host := index . 1 -}}
otlp:
  protocols:
    grpc:
      endpoint: "{{ $host }}:4317"
      max_recv_msg_size_mib: 4
    http:
      endpoint: "{{ $host }}:4318"
      max_request_body_size_mib: 4
  artifacts:
    directory: /var/lib/trainwire/artifacts
  {{- if and (include "trainwire.authEnabled" (index . 0)) (ne $host "localhost") }}
  auth:
    bearer_token: ${env:TRAINWIRE_TOKEN}
  {{- end }}
{{- end -}}

{{/* The forwarding exporter of agents and sidecars: (list $ctx endpoint insecure drainTimeoutS). */}}
{{- define "trainwire.config.forwardExporter" -}}
{{- $ctx := index . 0 -}}
otlp/gateway:
  endpoint: {{ index . 1 | quote }}
  tls:
    insecure: {{ index . 2 }}
  {{- if include "trainwire.authEnabled" $ctx }}
  headers:
    authorization: Bearer ${env:TRAINWIRE_TOKEN}
  {{- end }}
  sending_queue:
    storage: storage
    drain_timeout_s: {{ index . 3 }}
  # The gateway may be down a while (an upgrade re-attaches its volume): keep retrying.
  retry_on_failure:
    max_elapsed_time_s: 0
  artifacts:
    directory: /var/lib/trainwire/artifacts
{{- end -}}

{{- define "trainwire.config.common" -}}
processors:
  memory_limiter:
    check_interval_s: 1
    limit_percentage: 80
    spike_limit_percentage: 25
extensions:
  storage:
    directory: /var/lib/trainwire
  health_check:
    endpoint: "0.0.0.0:13133"
{{- end -}}

{{/* The sidecar serves no self-telemetry port: 8888 may be the training container's. */}}
{{- define "trainwire.config.telemetry" -}}
telemetry:
  logs:
    level: {{ .Values.logLevel }}
  metrics:
    address: {{ eq .Values.mode "sidecar" | ternary "" "0.0.0.0:8888" | quote }}
{{- end -}}

{{- define "trainwire.config.gateway" -}}
{{- $v := .Values -}}
{{- $extra := list -}}
{{- if $v.gateway.prometheus.enabled }}{{ $extra = append $extra "prometheus" }}{{ end -}}
{{- $events := list -}}
{{- if $v.discord.enabled }}{{ $events = append $events "discord" }}{{ end -}}
receivers:
  {{- include "trainwire.config.otlpReceiver" (list . "0.0.0.0") | nindent 2 }}
{{ include "trainwire.config.common" . }}
connectors:
  liveness:
    storage: storage
    heartbeat_interval_s: {{ $v.gateway.liveness.heartbeatIntervalS }}
    stall_timeout_s: {{ $v.gateway.liveness.stallTimeoutS }}
exporters:
  sqlite:
    path: /var/lib/trainwire/trainwire.db
    sending_queue:
      storage: storage
      queue_size: 1000
    retry_on_failure:
      initial_interval_s: 0.2
      max_interval_s: 5
      max_elapsed_time_s: 0
    {{- if $v.gateway.api.enabled }}
    api:
      endpoint: "0.0.0.0:8080"
      {{- if or $v.gateway.api.readToken $v.gateway.api.existingSecret }}
      read_token: ${env:TRAINWIRE_API_READ_TOKEN}
      {{- end }}
    {{- end }}
  {{- if $v.gateway.prometheus.enabled }}
  prometheus:
    endpoint: "0.0.0.0:9464"
    metric_expiration_s: {{ $v.gateway.prometheus.metricExpirationS }}
    max_series: {{ $v.gateway.prometheus.maxSeries | int }}
  {{- end }}
  {{- if $v.discord.enabled }}
  discord:
    webhook_url: ${env:DISCORD_WEBHOOK_URL}
    mode: {{ $v.discord.mode }}
    username: {{ $v.discord.username | quote }}
    update_interval_s: {{ $v.discord.updateIntervalS }}
    storage: storage
    artifacts:
      directory: /var/lib/trainwire/artifacts
    sending_queue:
      storage: storage
  {{- end }}
service:
  extensions: [storage, health_check]
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: {{ concat (list "sqlite" "liveness") $extra $events | toJson }}
    # prometheus learns run names (ml.run.start/rename) and ends (ml.run.end) from events.
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: {{ concat (list "sqlite" "liveness") $extra $events | toJson }}
    logs/liveness:
      receivers: [liveness]
      exporters: {{ concat (list "sqlite") $extra $events | toJson }}
    traces:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [sqlite]
  {{- include "trainwire.config.telemetry" . | nindent 2 }}
{{- end -}}

{{- define "trainwire.config.agent" -}}
{{- $v := .Values -}}
{{- $metrics := list "otlp" -}}
{{- if $v.agent.gpu.enabled }}{{ $metrics = append $metrics "nvml" }}{{ end -}}
{{- if $v.agent.hostMetrics.enabled }}{{ $metrics = append $metrics "hostmetrics" }}{{ end -}}
receivers:
  {{- include "trainwire.config.otlpReceiver" (list . "0.0.0.0") | nindent 2 }}
  {{- if $v.agent.gpu.enabled }}
  nvml:
    collection_interval_s: {{ $v.agent.gpu.collectionIntervalS }}
    required: {{ $v.agent.gpu.required }}
    # The host's /proc, to tell which pod (and run) each GPU process belongs to.
    root_path: /hostfs
    # host.name of the points: the node's (the pod's own name changes with every rollout).
    host_name: ${env:K8S_NODE_NAME}
  {{- end }}
  {{- if $v.agent.hostMetrics.enabled }}
  hostmetrics:
    collection_interval_s: {{ $v.agent.hostMetrics.collectionIntervalS }}
    host_name: ${env:K8S_NODE_NAME}
    # The host's /proc and mounts: its file systems, and run processes in other pods.
    root_path: /hostfs
  {{- end }}
{{ include "trainwire.config.common" . }}
connectors:
  # Only lists the node's live run ranks, so nvml and hostmetrics can tie processes to
  # runs; the gateway's own liveness connector declares crashes and stalls (once).
  liveness:
    storage: storage
    declare: false
exporters:
  {{- include "trainwire.config.forwardExporter" (list . $v.agent.gatewayEndpoint $v.agent.insecure $v.agent.drainTimeoutS) | nindent 2 }}
service:
  extensions: [storage, health_check]
  pipelines:
    metrics:
      receivers: {{ toJson $metrics }}
      processors: [memory_limiter]
      exporters: [otlp/gateway, liveness]
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp/gateway, liveness]
    # Never carries data (declare: false); a connector must feed some pipeline.
    logs/liveness:
      receivers: [liveness]
      exporters: [otlp/gateway]
    traces:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp/gateway]
  {{- include "trainwire.config.telemetry" . | nindent 2 }}
{{- end -}}

{{/* The sidecar listens on the pod's loopback only: the training container shares it. */}}
{{- define "trainwire.config.sidecar" -}}
{{- $v := .Values -}}
receivers:
  {{- include "trainwire.config.otlpReceiver" (list . "localhost") | nindent 2 }}
{{ include "trainwire.config.common" . }}
exporters:
  {{- include "trainwire.config.forwardExporter" (list . $v.sidecar.gatewayEndpoint $v.sidecar.insecure $v.sidecar.drainTimeoutS) | nindent 2 }}
service:
  extensions: [storage, health_check]
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp/gateway]
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp/gateway]
    traces:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp/gateway]
  {{- include "trainwire.config.telemetry" . | nindent 2 }}
{{- end -}}

{{/* The config of the release's mode with .Values.config laid over it, as YAML. */}}
{{- define "trainwire.config" -}}
{{- $base := include (printf "trainwire.config.%s" .Values.mode) . | fromYaml -}}
{{- if hasKey $base "Error" -}}
{{- fail (printf "internal: the rendered collector config is not YAML: %s" $base.Error) -}}
{{- end -}}
{{- mustMergeOverwrite $base (deepCopy .Values.config) | toYaml -}}
{{- end -}}
