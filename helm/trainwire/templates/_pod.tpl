{{/* The collector container of the gateway and the agent. */}}
{{- define "trainwire.container" -}}
- name: collector
  image: {{ include "trainwire.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["--config", "/etc/trainwire/config.yaml"]
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- with include "trainwire.env" . | trim }}
    {{- . | nindent 4 }}
    {{- end }}
  ports:
    - {name: otlp-grpc, containerPort: 4317, protocol: TCP}
    - {name: otlp-http, containerPort: 4318, protocol: TCP}
    {{- if and (eq .Values.mode "gateway") .Values.gateway.api.enabled }}
    - {name: api, containerPort: 8080, protocol: TCP}
    {{- end }}
    {{- if and (eq .Values.mode "gateway") .Values.gateway.prometheus.enabled }}
    - {name: metrics, containerPort: 9464, protocol: TCP}
    {{- end }}
    - {name: telemetry, containerPort: 8888, protocol: TCP}
    - {name: health, containerPort: 13133, protocol: TCP}
  {{- include "trainwire.probes" . | nindent 2 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - {name: config, mountPath: /etc/trainwire, readOnly: true}
    - {name: data, mountPath: /var/lib/trainwire}
    - {name: tmp, mountPath: /tmp}
    {{- if include "trainwire.hostfs" . }}
    - {name: hostfs, mountPath: /hostfs, readOnly: true, mountPropagation: HostToContainer}
    {{- end }}
{{- end -}}

{{/* Pod-level settings shared by the gateway and the agent. */}}
{{- define "trainwire.podSpec" -}}
serviceAccountName: {{ include "trainwire.serviceAccountName" . }}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  {{- include "trainwire.container" . | nindent 2 }}
{{- end -}}

{{- define "trainwire.podMetadata" -}}
labels:
  {{- include "trainwire.selectorLabels" . | nindent 2 }}
  {{- with .Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  # A changed config rolls the pods.
  checksum/config: {{ include "trainwire.config" . | sha256sum }}
  {{- with .Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* The agent mounts the host's root filesystem (read-only) for host metrics and NVML. */}}
{{- define "trainwire.hostfs" -}}
{{- if and (eq .Values.mode "agent") (or .Values.agent.hostMetrics.enabled .Values.agent.gpu.enabled) -}}true{{- end -}}
{{- end -}}
