{{/*
Names, labels and the environment every target shares.
*/}}

{{/* The chart's name. */}}
{{- define "kefu.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name: every object is "<fullname>-<component>". */}}
{{- define "kefu.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The five services behind the gateway, in start order. */}}
{{- define "kefu.services" -}}
tenants customers tickets callbacks analytics
{{- end -}}

{{/* Every target with a Deployment: the gateway, the services, the operator. */}}
{{- define "kefu.targets" -}}
gateway tenants customers tickets callbacks analytics operator
{{- end -}}

{{/* Labels of every object. */}}
{{- define "kefu.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kefu.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kefu
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* What selects the release's pods. */}}
{{- define "kefu.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kefu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: dict "root" $ "component" "tickets". */}}
{{- define "kefu.componentLabels" -}}
{{ include "kefu.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector of one component: dict "root" $ "component" "tickets". */}}
{{- define "kefu.componentSelector" -}}
{{ include "kefu.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image, pinned to the chart's appVersion unless told otherwise. */}}
{{- define "kefu.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret the chart generates (keys it holds depend on the values). */}}
{{- define "kefu.secretName" -}}
{{- include "kefu.fullname" . -}}
{{- end -}}

{{/* Where the internal key and the operator token are. */}}
{{- define "kefu.authSecretName" -}}
{{- .Values.auth.existingSecret | default (include "kefu.secretName" .) -}}
{{- end -}}

{{/* Whether the chart's Secret has anything to hold. */}}
{{- define "kefu.generatesSecret" -}}
{{- if or (not .Values.auth.existingSecret) .Values.postgresql.enabled .Values.redis.enabled (and .Values.externalDatabase.url (not .Values.externalDatabase.existingSecret)) (and .Values.externalRedis.url (not .Values.externalRedis.existingSecret)) (include "kefu.siloTemplateInSecret" .) -}}
true
{{- end -}}
{{- end -}}

{{/* Whether the chart's Secret holds the silo database URL template. */}}
{{- define "kefu.siloTemplateInSecret" -}}
{{- with .Values.operator -}}
{{- if and .enabled .silo.enabled .silo.databaseUrlTemplate (not .silo.existingSecret) }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* Service name and address of a target: dict "root" $ "target" "tickets". */}}
{{- define "kefu.serviceName" -}}
{{- printf "%s-%s" (include "kefu.fullname" .root) .target -}}
{{- end -}}

{{/* The gateway's address for one service: its Service in this release,
unless gateway.upstreams names another. */}}
{{- define "kefu.upstream" -}}
{{- $override := get .root.Values.gateway.upstreams .target -}}
{{- if $override -}}
{{- $override -}}
{{- else -}}
{{- printf "http://%s:%d" (include "kefu.serviceName" .) (int .root.Values.ports.service) -}}
{{- end -}}
{{- end -}}

{{/* The bundled PostgreSQL's and Redis' Service names. */}}
{{- define "kefu.postgresqlHost" -}}
{{- printf "%s-postgresql" (include "kefu.fullname" .) -}}
{{- end -}}
{{- define "kefu.redisHost" -}}
{{- printf "%s-redis" (include "kefu.fullname" .) -}}
{{- end -}}

{{/* Their addresses in URLs: qualified with the namespace, because the
operator hands the Redis URL (and a database URL template may name the
PostgreSQL) to silo services in other namespaces. */}}
{{- define "kefu.postgresqlAddress" -}}
{{- printf "%s.%s.svc:5432" (include "kefu.postgresqlHost" .) .Release.Namespace -}}
{{- end -}}
{{- define "kefu.redisAddress" -}}
{{- printf "%s.%s.svc:6379" (include "kefu.redisHost" .) .Release.Namespace -}}
{{- end -}}

{{/*
Refuses values that cannot work, with a message saying what to set. Called by
every template that depends on them, so `helm template` fails early.
*/}}
{{- define "kefu.validate" -}}
{{- if and .Values.postgresql.enabled (or .Values.externalDatabase.url .Values.externalDatabase.migrationUrl .Values.externalDatabase.existingSecret) -}}
{{- fail "externalDatabase is set while postgresql.enabled is true: set postgresql.enabled=false to use an external PostgreSQL" -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.externalDatabase.existingSecret) (not .Values.externalDatabase.url) -}}
{{- fail "no database: set externalDatabase.existingSecret (keys externalDatabase.urlKey and externalDatabase.migrationUrlKey) or externalDatabase.url and externalDatabase.migrationUrl, or postgresql.enabled=true" -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.externalDatabase.existingSecret) .Values.migrations.enabled (not .Values.externalDatabase.migrationUrl) -}}
{{- fail "externalDatabase.migrationUrl is needed: the migrations run as the database owner, the services as a role that owns nothing (externalDatabase.url)" -}}
{{- end -}}
{{- if and .Values.redis.enabled (or .Values.externalRedis.url .Values.externalRedis.existingSecret) -}}
{{- fail "externalRedis is set while redis.enabled is true: set redis.enabled=false to use an external Redis" -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not .Values.externalRedis.existingSecret) (not .Values.externalRedis.url) -}}
{{- fail "no Redis: set externalRedis.existingSecret or externalRedis.url, or redis.enabled=true" -}}
{{- end -}}
{{- end -}}

{{/*
The services' database URL as environment entries. The bundled PostgreSQL's
URL is assembled from its generated password ($(VAR) expansion), so the
password lives in one place.
*/}}
{{- define "kefu.env.database" -}}
{{- if .Values.postgresql.enabled }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kefu.secretName" . }}
      key: postgres-app-password
- name: KEFU_STORAGE__DATABASE_URL
  value: {{ printf "postgres://%s:$(DATABASE_PASSWORD)@%s/%s" .Values.postgresql.appUser (include "kefu.postgresqlAddress" .) .Values.postgresql.database | quote }}
{{- else }}
- name: KEFU_STORAGE__DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.existingSecret | default (include "kefu.secretName" .) }}
      key: {{ if .Values.externalDatabase.existingSecret }}{{ .Values.externalDatabase.urlKey }}{{ else }}database-url{{ end }}
{{- end }}
{{- end -}}

{{/* The owner's database URL, for the migrations only. */}}
{{- define "kefu.env.migrationDatabase" -}}
{{- if .Values.postgresql.enabled }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kefu.secretName" . }}
      key: postgres-owner-password
- name: KEFU_STORAGE__DATABASE_URL
  value: {{ printf "postgres://%s:$(DATABASE_PASSWORD)@%s/%s" .Values.postgresql.ownerUser (include "kefu.postgresqlAddress" .) .Values.postgresql.database | quote }}
{{- else if .Values.externalDatabase.existingSecret }}
- name: KEFU_STORAGE__DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.migrationUrlKey }}
{{- else }}
- name: KEFU_STORAGE__DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "kefu.fullname" . }}-migrations
      key: migration-database-url
{{- end }}
{{- end -}}

{{/* The Redis URL (event bus, rate-limit buckets). */}}
{{- define "kefu.env.redis" -}}
{{- if .Values.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kefu.secretName" . }}
      key: redis-password
- name: KEFU_BUS__REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s" (include "kefu.redisAddress" .) | quote }}
{{- else }}
- name: KEFU_BUS__REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret | default (include "kefu.secretName" .) }}
      key: {{ if .Values.externalRedis.existingSecret }}{{ .Values.externalRedis.urlKey }}{{ else }}redis-url{{ end }}
{{- end }}
- name: KEFU_BUS__NAMESPACE
  value: {{ .Values.config.busNamespace | quote }}
{{- end -}}

{{/* Logs and traces: dict "root" $ "component" "tickets". */}}
{{- define "kefu.env.telemetry" -}}
- name: KEFU_TELEMETRY__LOG
  value: {{ .root.Values.config.logLevel | quote }}
- name: KEFU_TELEMETRY__LOG_FORMAT
  value: {{ .root.Values.config.logFormat | quote }}
- name: KEFU_TELEMETRY__SERVICE_NAME
  value: {{ printf "kefu-%s" .component | quote }}
{{- with .root.Values.telemetry.otlpEndpoint }}
- name: KEFU_TELEMETRY__OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The key of the internal credential. */}}
{{- define "kefu.env.internalKey" -}}
- name: KEFU_AUTH__INTERNAL_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "kefu.authSecretName" . }}
      key: {{ .Values.auth.internalKeyKey }}
{{- end -}}

{{/* The platform operator's token. */}}
{{- define "kefu.env.operatorToken" -}}
- name: KEFU_AUTH__OPERATOR_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "kefu.authSecretName" . }}
      key: {{ .Values.auth.operatorTokenKey }}
{{- end -}}

{{/*
The whole environment of a target: dict "root" $ "target" "tickets".
The KEFU_* names per target are the ones deploy/docker-compose.yaml sets
(charts/kefu/ci/consistency.py compares them).
*/}}
{{- define "kefu.env" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .target -}}
{{- include "kefu.env.internalKey" $root }}
{{ include "kefu.env.telemetry" (dict "root" $root "component" .target) }}
{{- if eq .target "gateway" }}
- name: KEFU_LISTEN__GATEWAY
  value: {{ printf "0.0.0.0:%d" (int $root.Values.ports.gateway) | quote }}
- name: KEFU_LISTEN__TRUSTED_PROXIES
  value: {{ $root.Values.config.trustedProxies | quote }}
{{ include "kefu.env.operatorToken" $root }}
- name: KEFU_AUTH__CREDENTIAL_TTL_SECS
  value: {{ $root.Values.config.credentialTtlSecs | quote }}
{{- range $service := splitList " " (include "kefu.services" $root) }}
- name: KEFU_UPSTREAMS__{{ upper $service }}
  value: {{ include "kefu.upstream" (dict "root" $root "target" $service) | quote }}
{{- end }}
{{- include "kefu.env.redis" $root }}
{{- with $root.Values.config.limits }}
- name: KEFU_LIMITS__ENABLED
  value: {{ .enabled | quote }}
- name: KEFU_LIMITS__STARTER_PER_SECOND
  value: {{ .starterPerSecond | quote }}
- name: KEFU_LIMITS__PROFESSIONAL_PER_SECOND
  value: {{ .professionalPerSecond | quote }}
- name: KEFU_LIMITS__ENTERPRISE_PER_SECOND
  value: {{ .enterprisePerSecond | quote }}
- name: KEFU_LIMITS__CREDENTIAL_SHARE
  value: {{ .credentialShare | quote }}
- name: KEFU_LIMITS__ANONYMOUS_PER_SECOND
  value: {{ .anonymousPerSecond | quote }}
- name: KEFU_LIMITS__BURST_SECONDS
  value: {{ .burstSeconds | quote }}
{{- end }}
{{- else if eq .target "operator" }}
- name: KEFU_LISTEN__SERVICE
  value: {{ printf "0.0.0.0:%d" (int $root.Values.ports.service) | quote }}
{{ include "kefu.env.operatorToken" $root }}
- name: KEFU_OPERATOR__GATEWAY_URL
  value: {{ printf "http://%s:%d" (include "kefu.serviceName" (dict "root" $root "target" "gateway")) (int $root.Values.gateway.service.port) | quote }}
{{- with $values.watchNamespace }}
- name: KEFU_OPERATOR__WATCH_NAMESPACE
  value: {{ . | quote }}
{{- end }}
{{- /* A silo's services get the internal key and the Redis URL from the
operator (kefu-runtime Secret in the silo's namespace). */}}
{{- include "kefu.env.redis" $root }}
{{- /* The operator's namespace (where the gateway runs, admitted by each
silo's NetworkPolicy). */}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with $values.silo }}
{{- if .enabled }}
- name: KEFU_OPERATOR__SILO__IMAGE
  value: {{ include "kefu.image" $root | quote }}
- name: KEFU_OPERATOR__SILO__NAMESPACE_PREFIX
  value: {{ .namespacePrefix | quote }}
- name: KEFU_OPERATOR__SILO__REPLICAS
  value: {{ .replicas | quote }}
- name: KEFU_OPERATOR__SILO__QUOTA_CPU
  value: {{ .quota.cpu | quote }}
- name: KEFU_OPERATOR__SILO__QUOTA_MEMORY
  value: {{ .quota.memory | quote }}
- name: KEFU_OPERATOR__SILO__QUOTA_PODS
  value: {{ .quota.pods | quote }}
{{- if or .existingSecret .databaseUrlTemplate }}
- name: KEFU_OPERATOR__SILO__DATABASE_URL_TEMPLATE
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | default (include "kefu.secretName" $root) }}
      key: {{ if .existingSecret }}{{ .databaseUrlTemplateKey }}{{ else }}silo-database-url-template{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- else }}
- name: KEFU_LISTEN__SERVICE
  value: {{ printf "0.0.0.0:%d" (int $root.Values.ports.service) | quote }}
{{- include "kefu.env.database" $root }}
- name: KEFU_STORAGE__MAX_CONNECTIONS
  value: {{ $root.Values.config.databaseMaxConnections | quote }}
{{- include "kefu.env.redis" $root }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The container's security context, and the pod's. */}}
{{- define "kefu.containerSecurityContext" -}}
{{ toYaml .Values.securityContext }}
{{- end -}}

{{/* Scheduling fields of a workload's pod spec: its values object. */}}
{{- define "kefu.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* Whether a target runs more than one pod at its lowest: replicas, or the
autoscaler's minimum. dict "values" <target values>. Prints "true" or nothing. */}}
{{- define "kefu.multiReplica" -}}
{{- if .autoscaling.enabled -}}
{{- if gt (int .autoscaling.minReplicas) 1 }}true{{ end -}}
{{- else -}}
{{- if gt (int .replicas) 1 }}true{{ end -}}
{{- end -}}
{{- end -}}
