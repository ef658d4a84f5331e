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

{{/* A served component's TLS: `dict "root" $ "key" "webhook" "name" "podwarden-webhook"` (or
     "nodeAuthorization" / "podwarden-nodeauth"). Its values (.Values.<key>) carry
     namespace, certificates and, for the node authorizer, the Service's clusterIP. */}}

{{/* The certificate source after `auto` is resolved: cert-manager or files. */}}
{{- define "podwarden.certSource" -}}
{{- $source := (index .root.Values .key).certificates.source -}}
{{- if eq $source "auto" -}}
{{- if .root.Capabilities.APIVersions.Has "cert-manager.io/v1" }}cert-manager{{ else }}files{{ end -}}
{{- else -}}
{{ $source }}
{{- end -}}
{{- end -}}

{{/* `podwarden webhook certs` arguments that make the component's serving certificate. */}}
{{- define "podwarden.certsCommand" -}}
{{- $values := index .root.Values .key -}}
podwarden webhook certs --service {{ .name }} --namespace {{ $values.namespace }}
{{- with $values.clusterIP }} --ip {{ . }}{{ end }} --out certs/
{{- end -}}

{{/* The caBundle for `files`: required, base64 of a PEM certificate (or the plain manifests'
     placeholder, which is not base64, so an unfilled file is refused by the API server). */}}
{{- define "podwarden.caBundle" -}}
{{- $key := printf "%s.certificates" .key -}}
{{- $bundle := (index .root.Values .key).certificates.caBundle | trim -}}
{{- if eq $bundle "CA_BUNDLE_PLACEHOLDER" -}}
{{ $bundle }}
{{- else if not $bundle -}}
{{- fail (printf "%s.caBundle: required when %s's certificates come from files (source files, or auto without cert-manager's API cert-manager.io/v1). Run `%s` and pass --set-file %s.caBundle=certs/caBundle (with tlsCert/tlsKey, or a Secret named %s.secretName), or install cert-manager, or set %s.enabled=false" $key .name (include "podwarden.certsCommand" .) $key $key .key) -}}
{{- else if not (contains "-----BEGIN CERTIFICATE-----" (b64dec $bundle)) -}}
{{- fail (printf "%s.caBundle: not base64 of a PEM certificate (use the caBundle file `podwarden webhook certs` writes)" $key) -}}
{{- else -}}
{{ $bundle }}
{{- end -}}
{{- end -}}

{{/* The serving certificate: cert-manager's (a self-signed root, a CA issuer from it, and
     the certificate, ECDSA P-256 as `podwarden webhook certs` makes), or a Secret from the
     files that command wrote (--set-file), or nothing (a Secret you create). */}}
{{- define "podwarden.certificates" -}}
{{- $values := index .root.Values .key -}}
{{- $certs := $values.certificates -}}
{{- $namespace := $values.namespace -}}
{{- $labels := include "podwarden.labels" (dict "root" .root "name" .name) -}}
{{- if eq (include "podwarden.certSource" .) "cert-manager" }}
{{- $issuer := $certs.certManager.issuerRef }}
{{- if not $issuer }}
{{- $issuer = dict "kind" "Issuer" "name" (printf "%s-ca" .name) }}
# cert-manager: a self-signed root, a CA issuer from it, and the serving certificate (ECDSA
# P-256, as `podwarden webhook certs` makes). {{ .name }} reloads the Secret when renewed.
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {{ .name }}-selfsigned
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ .name }}-ca
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  isCA: true
  commonName: {{ .name }}-ca
  secretName: {{ .name }}-ca
  duration: 87600h
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    kind: Issuer
    name: {{ .name }}-selfsigned
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {{ .name }}-ca
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  ca:
    secretName: {{ .name }}-ca
---
{{- end }}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ .name }}
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  secretName: {{ $certs.secretName }}
  duration: {{ $certs.certManager.duration }}
  renewBefore: {{ $certs.certManager.renewBefore }}
  dnsNames:
    - {{ .name }}
    - {{ .name }}.{{ $namespace }}
    - {{ .name }}.{{ $namespace }}.svc
    - {{ .name }}.{{ $namespace }}.svc.cluster.local
  {{- with $values.clusterIP }}
  ipAddresses: [{{ . | quote }}]
  {{- end }}
  privateKey:
    algorithm: ECDSA
    size: 256
  usages: [server auth, digital signature, key encipherment]
  issuerRef:
    {{- toYaml $issuer | nindent 4 }}
{{- else if or $certs.tlsCert $certs.tlsKey }}
{{- if not (and $certs.tlsCert $certs.tlsKey) }}
{{- fail (printf "%s.certificates: tlsCert and tlsKey go together (--set-file %s.certificates.tlsCert=certs/tls.crt --set-file %s.certificates.tlsKey=certs/tls.key)" .key .key .key) }}
{{- end }}
# The serving certificate and key `{{ include "podwarden.certsCommand" . }}` wrote (--set-file).
apiVersion: v1
kind: Secret
metadata:
  name: {{ $certs.secretName }}
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
type: kubernetes.io/tls
data:
  tls.crt: {{ $certs.tlsCert | b64enc }}
  tls.key: {{ $certs.tlsKey | b64enc }}
{{- end }}
{{- end -}}

{{/* Where a replicated server's pods go: spread over zones, apart from each other, and the
     user's node selector, tolerations and pull secrets. `dict "root" $ "key" "webhook"
     "name" "podwarden-webhook"`; indented for a pod spec. */}}
{{- define "podwarden.placement" -}}
{{- $values := index .root.Values .key -}}
{{- $selector := dict "app.kubernetes.io/name" .name -}}
{{- if $values.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- toYaml $selector | nindent 8 }}
{{- end }}
affinity:
  podAntiAffinity:
    {{- if eq $values.antiAffinity "required" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- toYaml $selector | nindent 12 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- toYaml $selector | nindent 14 }}
    {{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The PodDisruptionBudget of a replicated server, refused when it would block every
     drain. `dict "root" $ "key" "webhook" "name" "podwarden-webhook"`. */}}
{{- define "podwarden.pdb" -}}
{{- $values := index .root.Values .key -}}
{{- $min := $values.podDisruptionBudget.minAvailable }}
{{- if and (kindIs "float64" $min) (ge (int $min) (int $values.replicas)) }}
{{- fail (printf "%s.podDisruptionBudget.minAvailable: %d with %s.replicas %d would block every node drain; use more replicas or a lower minAvailable" .key (int $min) .key (int $values.replicas)) }}
{{- end }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ $values.namespace }}
  labels:
    {{- include "podwarden.labels" (dict "root" .root "name" .name) | nindent 4 }}
spec:
  minAvailable: {{ $values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{/* Namespaces the admission webhooks never judge: the configured ones, the webhook's own
     and the node authorizer's (so either can always be repaired). */}}
{{- define "podwarden.excludedNamespaces" -}}
{{- $excluded := append .Values.webhook.excludedNamespaces .Values.webhook.namespace -}}
{{- if .Values.nodeAuthorization.enabled -}}
{{- $excluded = append $excluded .Values.nodeAuthorization.namespace -}}
{{- end -}}
{{- $excluded | uniq | toJson -}}
{{- end -}}

{{/* clientConfig and namespaceSelector of one webhook: `dict "root" $ "path" "/validate"`. */}}
{{- define "podwarden.clientConfig" -}}
clientConfig:
  service:
    name: podwarden-webhook
    namespace: {{ .root.Values.webhook.namespace }}
    path: {{ .path }}
    port: 443
  {{- $tls := dict "root" .root "key" "webhook" "name" "podwarden-webhook" }}
  {{- if ne (include "podwarden.certSource" $tls) "cert-manager" }}
  caBundle: {{ include "podwarden.caBundle" $tls }}
  {{- end }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "podwarden.excludedNamespaces" .root }}
{{- end -}}
