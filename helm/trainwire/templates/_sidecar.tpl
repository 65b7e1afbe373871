{{/*
The collector as a native sidecar of a training pod (Kubernetes >= 1.29): an init container
with restartPolicy: Always starts before the training container, runs beside it, and is
stopped (SIGTERM: drain, exit 0) once the training containers have exited, so the Job
completes. It listens on the pod's loopback and forwards to the gateway.

Call with a context holding this chart's values and the release, e.g. from a parent chart
that depends on trainwire (installed there with mode: sidecar, which renders the config):

  initContainers:
    {{- include "trainwire.sidecar" (dict "Values" .Values.trainwire "Release" .Release) | nindent 4 }}
  containers:
    - name: train
      env:
        {{- include "trainwire.sidecar.env" (dict "Values" .Values.trainwire "Release" .Release) | nindent 8 }}
  volumes:
    {{- include "trainwire.sidecar.volumes" (dict "Values" .Values.trainwire "Release" .Release) | nindent 4 }}
*/}}
{{- define "trainwire.sidecar" -}}
- name: trainwire
  image: {{ include "trainwire.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  restartPolicy: Always
  args: ["--config", "/etc/trainwire/config.yaml"]
  {{- with (include "trainwire.secretEnv" (list . "TRAINWIRE_TOKEN" .Values.auth.token .Values.auth.existingSecret .Values.auth.existingSecretKey "token")) }}
  env:
    {{- . | trim | nindent 4 }}
  {{- end }}
  ports:
    - {name: tw-health, containerPort: 13133, protocol: TCP}
  # The training container starts once the collector answers.
  startupProbe:
    httpGet: {path: /, port: tw-health}
    periodSeconds: 1
    failureThreshold: 60
  livenessProbe:
    httpGet: {path: /, port: tw-health}
    periodSeconds: 10
    failureThreshold: 6
  resources:
    {{- toYaml .Values.sidecar.resources | nindent 4 }}
  securityContext:
    {{- toYaml (mustMergeOverwrite (dict "runAsNonRoot" true "runAsUser" 10001 "runAsGroup" 10001) (deepCopy .Values.securityContext)) | nindent 4 }}
  volumeMounts:
    - {name: trainwire-config, mountPath: /etc/trainwire, readOnly: true}
    - {name: trainwire-data, mountPath: /var/lib/trainwire}
    - {name: trainwire-tmp, mountPath: /tmp}
{{- end -}}

{{/*
The training container's environment: send to the sidecar, and name the pod in the run's
resource, so that the agent's nvml receiver can tie GPU memory to the run (cgroup v2 hides
the pod from the process). A container setting OTEL_RESOURCE_ATTRIBUTES itself keeps
k8s.pod.uid=$(POD_UID) in it.
*/}}
{{- define "trainwire.sidecar.env" -}}
- name: TRAINWIRE_ENDPOINT
  value: http://localhost:4317
- name: POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
- name: OTEL_RESOURCE_ATTRIBUTES
  value: k8s.pod.uid=$(POD_UID)
{{- end -}}

{{/* The sidecar's volumes: its config (the release's ConfigMap) and its queue. */}}
{{- define "trainwire.sidecar.volumes" -}}
- name: trainwire-config
  configMap:
    name: {{ include "trainwire.configName" . }}
- name: trainwire-data
  emptyDir: {}
- name: trainwire-tmp
  emptyDir: {}
{{- end -}}
