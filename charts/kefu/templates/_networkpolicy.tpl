{{/* Rules shared by the network policies (networkpolicies.yaml). */}}

{{- define "kefu.np.postgresqlEgress" -}}
- ports:
    - port: {{ ternary 5432 .Values.networkPolicy.externalDatabase.port .Values.postgresql.enabled }}
      protocol: TCP
  {{- if .Values.postgresql.enabled }}
  to:
    - podSelector:
        matchLabels:
          {{- include "kefu.componentSelector" (dict "root" . "component" "postgresql") | nindent 10 }}
  {{- else if .Values.networkPolicy.externalDatabase.to }}
  to:
    {{- toYaml .Values.networkPolicy.externalDatabase.to | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "kefu.np.redisEgress" -}}
- ports:
    - port: {{ ternary 6379 .Values.networkPolicy.externalRedis.port .Values.redis.enabled }}
      protocol: TCP
  {{- if .Values.redis.enabled }}
  to:
    - podSelector:
        matchLabels:
          {{- include "kefu.componentSelector" (dict "root" . "component" "redis") | nindent 10 }}
  {{- else if .Values.networkPolicy.externalRedis.to }}
  to:
    {{- toYaml .Values.networkPolicy.externalRedis.to | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "kefu.np.otlpEgress" -}}
{{- if .Values.telemetry.otlpEndpoint }}
- ports:
    - port: {{ .Values.networkPolicy.otlp.port }}
      protocol: TCP
  {{- with .Values.networkPolicy.otlp.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "kefu.np.metricsIngress" -}}
{{- if .Values.serviceMonitor.enabled }}
- ports:
    - port: http
      protocol: TCP
  {{- with .Values.networkPolicy.metricsFrom }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
