{{/* The image, with the chart's appVersion as default tag. */}}
{{- define "podwarden.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Labels of one component: `dict "root" $ "name" "podwarden-agent"`. */}}
{{- define "podwarden.labels" -}}
app.kubernetes.io/name: {{ .name }}
{{- if .root.Values.standardLabels }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: podwarden
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The webhook's certificate source after `auto` is resolved: cert-manager or files. */}}
{{- define "podwarden.certSource" -}}
{{- $source := .Values.webhook.certificates.source -}}
{{- if eq $source "auto" -}}
{{- if .Capabilities.APIVersions.Has "cert-manager.io/v1" }}cert-manager{{ else }}files{{ end -}}
{{- else -}}
{{ $source }}
{{- end -}}
{{- end -}}

{{/* The caBundle for `files`: required, base64 of a PEM certificate (or the plain manifests'
     placeholder, which is not base64, so an unfilled file is refused by the API server). */}}
{{- define "podwarden.caBundle" -}}
{{- $bundle := .Values.webhook.certificates.caBundle | trim -}}
{{- if eq $bundle "CA_BUNDLE_PLACEHOLDER" -}}
{{ $bundle }}
{{- else if not $bundle -}}
{{- fail "webhook.certificates.caBundle: required when the webhook's certificates come from files (source files, or auto without cert-manager's API cert-manager.io/v1). Run `podwarden webhook certs --service podwarden-webhook --namespace podwarden --out certs/` and pass --set-file webhook.certificates.caBundle=certs/caBundle (with tlsCert/tlsKey, or a Secret named webhook.certificates.secretName), or install cert-manager, or set webhook.enabled=false" -}}
{{- else if not (contains "-----BEGIN CERTIFICATE-----" (b64dec $bundle)) -}}
{{- fail "webhook.certificates.caBundle: not base64 of a PEM certificate (use the caBundle file `podwarden webhook certs` writes)" -}}
{{- else -}}
{{ $bundle }}
{{- end -}}
{{- end -}}

{{/* Namespaces the admission webhooks never judge: the configured ones and the webhook's own. */}}
{{- define "podwarden.excludedNamespaces" -}}
{{- append .Values.webhook.excludedNamespaces .Values.webhook.namespace | uniq | toJson -}}
{{- end -}}

{{/* clientConfig and namespaceSelector of one webhook: `dict "root" $ "path" "/validate"`. */}}
{{- define "podwarden.clientConfig" -}}
clientConfig:
  service:
    name: podwarden-webhook
    namespace: {{ .root.Values.webhook.namespace }}
    path: {{ .path }}
    port: 443
  {{- if ne (include "podwarden.certSource" .root) "cert-manager" }}
  caBundle: {{ include "podwarden.caBundle" .root }}
  {{- end }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "podwarden.excludedNamespaces" .root }}
{{- end -}}
