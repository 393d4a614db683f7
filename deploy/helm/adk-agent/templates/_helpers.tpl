{{/* The release's resource name: the release name when it names the chart already. */}}
{{- define "adk-agent.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every resource: those of deploy/kubernetes plus Helm's own. */}}
{{- define "adk-agent.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The DaemonSet's selector (immutable): the instance keeps two releases apart. */}}
{{- define "adk-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: host-metrics
{{- end -}}

{{/* OTEL_RESOURCE_ATTRIBUTES: k=v pairs, values percent-encoded where the format needs it. */}}
{{- define "adk-agent.resourceAttributes" -}}
{{- $pairs := list -}}
{{- range $key, $value := .Values.resourceAttributes -}}
{{- $encoded := $value | toString | replace "%" "%25" | replace "," "%2C" -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $encoded) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* ADK_AGENT_PROCESSES: comma-separated, or a JSON list when a target holds a comma. */}}
{{- define "adk-agent.processes" -}}
{{- if contains "," (join "" .Values.processes) -}}
{{- toJson .Values.processes -}}
{{- else -}}
{{- join "," .Values.processes -}}
{{- end -}}
{{- end -}}
