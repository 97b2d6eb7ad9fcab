{{/*
Names, labels, images and the flag renderer shared by every template.
*/}}

{{/* The chart name, overridable. */}}
{{- define "profileguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: the release name, plus the chart name unless the release
name already contains it. 63 characters at most (DNS label), leaving room for suffixes is the
caller's job: every suffix the chart uses is short, and names are cut again where they are used.
*/}}
{{- define "profileguard.fullname" -}}
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

{{/* <fullname>-<suffix>, cut to a DNS label. Call with (list $ "suffix"). */}}
{{- define "profileguard.componentName" -}}
{{- $ctx := index . 0 }}
{{- printf "%s-%s" (include "profileguard.fullname" $ctx) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "profileguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Kubernetes recommended labels. Call with (list $ "component"); component may be "" for objects
shared by the whole release.
*/}}
{{- define "profileguard.labels" -}}
{{- $ctx := index . 0 -}}
helm.sh/chart: {{ include "profileguard.chart" $ctx }}
{{ include "profileguard.selectorLabels" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | toString | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: profileguard
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels a component's selectors match: stable across upgrades. (list $ "component") */}}
{{- define "profileguard.selectorLabels" -}}
{{- $ctx := index . 0 }}
{{- $component := index . 1 -}}
app.kubernetes.io/name: {{ include "profileguard.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
{{- if $component }}
app.kubernetes.io/component: {{ $component }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "profileguard.image" -}}
{{- $img := .Values.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag | toString) }}
{{- end }}
{{- end }}

{{/* Object names. */}}
{{- define "profileguard.webhookName" -}}{{ include "profileguard.componentName" (list . "webhook") }}{{- end }}
{{- define "profileguard.controllerName" -}}{{ include "profileguard.componentName" (list . "controller") }}{{- end }}
{{- define "profileguard.agentName" -}}{{ include "profileguard.componentName" (list . "agent") }}{{- end }}
{{- define "profileguard.telemetryServiceName" -}}{{ include "profileguard.componentName" (list . "telemetry") }}{{- end }}
{{/* The ValidatingWebhookConfiguration is cluster-scoped: for the default release name it is
"profileguard", the name the off-switch in docs/operations.md deletes. */}}
{{- define "profileguard.webhookConfigName" -}}{{ include "profileguard.fullname" . }}{{- end }}
{{- define "profileguard.tlsSecretName" -}}
{{- default (include "profileguard.componentName" (list . "tls")) .Values.certificate.secretName }}
{{- end }}
{{- define "profileguard.telemetryTLSSecretName" -}}
{{- default (include "profileguard.tlsSecretName" .) .Values.telemetry.tls.secretName }}
{{- end }}
{{- define "profileguard.leaseName" -}}
{{- default (include "profileguard.controllerName" .) .Values.controller.leaseName }}
{{- end }}
{{- define "profileguard.servingCertificateName" -}}{{ include "profileguard.componentName" (list . "serving") }}{{- end }}

{{/* A component's ServiceAccount name. (list $ "webhook"|"controller"|"agent") */}}
{{- define "profileguard.serviceAccountName" -}}
{{- $ctx := index . 0 }}
{{- $component := index . 1 }}
{{- $sa := (index $ctx.Values $component).serviceAccount }}
{{- if $sa.create }}
{{- default (include "profileguard.componentName" (list $ctx $component)) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{/* The namespaces never judged nor acted on: excludedNamespaces plus the release namespace,
and kube-system whenever failurePolicy is Fail (the control plane must never wait for this
webhook; the controller refuses to arm a Fail configuration that would judge it). */}}
{{- define "profileguard.excludedNamespaces" -}}
{{- $all := concat .Values.excludedNamespaces (list .Release.Namespace) }}
{{- if eq .Values.webhook.failurePolicy "Fail" }}
{{- $all = append $all "kube-system" }}
{{- end }}
{{- $all = uniq $all }}
{{- toJson $all }}
{{- end }}

{{/* The DNS names of a Service in the release namespace. (list $ "service-name") */}}
{{- define "profileguard.serviceDNSNames" -}}
{{- $ctx := index . 0 }}
{{- $svc := index . 1 }}
{{- $ns := $ctx.Release.Namespace }}
{{- toJson (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) }}
{{- end }}

{{/* Users allowed to send telemetry with a bearer token: telemetry.allowedUsers, the agent's
ServiceAccount when the agent runs, and the user of each enabled source. */}}
{{- define "profileguard.telemetryAllowedUsers" -}}
{{- $users := .Values.telemetry.allowedUsers }}
{{- if .Values.agent.enabled }}
{{- $users = append $users (printf "system:serviceaccount:%s:%s" .Release.Namespace (include "profileguard.serviceAccountName" (list . "agent"))) }}
{{- end }}
{{- range $name, $src := .Values.telemetry.sources }}
{{- if and $src.enabled $src.user }}
{{- $users = append $users $src.user }}
{{- end }}
{{- end }}
{{- toJson (uniq $users) }}
{{- end }}

{{/*
Flags as container args. Call with a dict of flag name → value: null leaves the flag out, a list
repeats it, a bool is true/false, and a number prints as an integer when it is one (values read
from YAML are float64, and Go would print 3211264 as 3.211264e+06). Keys come out sorted.
*/}}
{{- define "profileguard.flagArgs" -}}
{{- range $name, $value := . }}
{{- if not (kindIs "invalid" $value) }}
{{- $items := ternary $value (list $value) (kindIs "slice" $value) }}
{{- range $items }}
{{- $v := . }}
{{- if and (kindIs "float64" $v) (eq (float64 (int64 $v)) $v) }}
{{- $v = int64 $v }}
{{- end }}
- {{ printf "--%s=%v" $name $v | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The env every component gets: its own pod's name and namespace and its node. */}}
{{- define "profileguard.downwardEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end }}

{{/*
Pod anti-affinity over nodes for a component: (list $ "component" "preferred"|"required"|"none").
*/}}
{{- define "profileguard.podAntiAffinity" -}}
{{- $ctx := index . 0 }}
{{- $component := index . 1 }}
{{- $mode := index . 2 -}}
{{- if eq $mode "required" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "profileguard.selectorLabels" (list $ctx $component) | nindent 10 }}
{{- else if eq $mode "preferred" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "profileguard.selectorLabels" (list $ctx $component) | nindent 12 }}
{{- end }}
{{- end }}

{{/* The PodDisruptionBudget spec of a component: (list $ "component" .pdbValues replicas). */}}
{{- define "profileguard.pdbSpec" -}}
{{- $ctx := index . 0 }}
{{- $component := index . 1 }}
{{- $pdb := index . 2 }}
{{- $replicas := int64 (index . 3) }}
{{- if and (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable) }}
{{- fail (printf "%s.podDisruptionBudget: set minAvailable or maxUnavailable" $component) }}
{{- end }}
{{- if and (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail (printf "%s.podDisruptionBudget: set only one of minAvailable and maxUnavailable" $component) }}
{{- end }}
{{- if and (kindIs "float64" $pdb.minAvailable) (ge (int64 $pdb.minAvailable) $replicas) }}
{{- fail (printf "%s.podDisruptionBudget.minAvailable (%d) must be below replicaCount (%d), or no node could ever be drained" $component (int64 $pdb.minAvailable) $replicas) }}
{{- end }}
{{- if not (kindIs "invalid" $pdb.minAvailable) -}}
minAvailable: {{ $pdb.minAvailable }}
{{- else -}}
maxUnavailable: {{ $pdb.maxUnavailable }}
{{- end }}
selector:
  matchLabels:
    {{- include "profileguard.selectorLabels" (list $ctx $component) | nindent 4 }}
{{- end }}

{{/* Chart-wide checks, run by every workload template. */}}
{{- define "profileguard.validate" -}}
{{- if and .Values.agent.enabled (not .Values.telemetry.enabled) }}
{{- fail "agent.enabled needs telemetry.enabled: the agent sends to the controller's telemetry endpoint" }}
{{- end }}
{{- $ws := .Values.webhook }}
{{- if ge (add (int64 $ws.preStopSleepSeconds) (int64 (default 10 (index .Values.flags.webhook "shutdown-timeout")))) (int64 $ws.terminationGracePeriodSeconds) }}
{{- fail "webhook.preStopSleepSeconds + flags.webhook.shutdown-timeout must be below webhook.terminationGracePeriodSeconds" }}
{{- end }}
{{- if ge (int64 (default 20 (index .Values.flags.controller "shutdown-timeout"))) (int64 .Values.controller.terminationGracePeriodSeconds) }}
{{- fail "flags.controller.shutdown-timeout (default 20) must be below controller.terminationGracePeriodSeconds" }}
{{- end }}
{{- end }}
