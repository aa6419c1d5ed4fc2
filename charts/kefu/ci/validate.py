#!/usr/bin/env python3
"""Validates rendered chart manifests.

1. Every object against the Kubernetes JSON schemas of the given releases
   (PyPI `kubernetes-validate`, strict: unknown fields are errors). Custom
   resources have no schema there; the ones listed in CUSTOM_RESOURCES are
   counted as skipped (by name, with the reason), any other kind without a
   schema is an error.
2. The chart's own promises on every pod it renders: the restricted
   pod-security profile plus a read-only root filesystem, resources, no
   service-account token except for the operator, native gRPC probes on
   every kefu target, and a PodDisruptionBudget only for workloads that run
   more than one pod.

usage: validate.py --kube-version 1.33.0 [--kube-version 1.35.0] FILE...
"""

import argparse
import functools
import sys

import yaml

try:
    import kubernetes_validate
    import kubernetes_validate.utils as kv_utils
except ImportError:  # test.sh installs it first; say so when run alone
    sys.exit("kubernetes-validate is missing: python3 -m pip install --user kubernetes-validate")

# Kinds whose schemas are not Kubernetes' own: skipped, and said so.
CUSTOM_RESOURCES = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "Prometheus Operator CRD",
    ("kefu.io/v1alpha1", "Tenant"): "Kefu's own CRD (crds/)",
}

WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}

# The schema files are large and read on every call: read each once.
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def load(paths):
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if doc:
                    yield path, doc


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def schema_errors(docs, versions):
    errors, validated, skipped = [], 0, {}
    for path, doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CUSTOM_RESOURCES:
            skipped[key] = skipped.get(key, 0) + 1
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                errors.append(f"{path}: {name_of(doc)} (Kubernetes {version}): {where}: {error.message}")
            except kv_utils.SchemaNotFoundError as error:
                errors.append(f"{path}: {name_of(doc)}: {error.message}")
            except kv_utils.VersionNotSupportedError:
                sys.exit(f"kubernetes-validate {kubernetes_validate.__version__} does not know Kubernetes {version}")
        validated += 1
    return errors, validated, skipped


def pod_spec(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "Job":
        return spec["template"]["spec"]
    return spec.get("template", {}).get("spec")


def is_kefu(container):
    image = container.get("image", "")
    return container.get("name") in ("kefu", "migrate") and "postgres" not in image and "redis" not in image


def pod_errors(path, doc):
    """The restricted Pod Security Standard, read-only root, resources, probes."""
    errors = []
    spec = pod_spec(doc)
    where = f"{path}: {name_of(doc)}"
    pod_sc = spec.get("securityContext", {})
    component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        errors.append(f"{where}: host namespaces")
    for volume in spec.get("volumes", []):
        if "hostPath" in volume:
            errors.append(f"{where}: hostPath volume {volume['name']}")
    wants_token = component == "operator"
    if bool(spec.get("automountServiceAccountToken", True)) != wants_token:
        errors.append(f"{where}: automountServiceAccountToken should be {str(wants_token).lower()}")
    for container in spec.get("initContainers", []) + spec["containers"]:
        sc = container.get("securityContext", {})
        cname = f"{where} container {container['name']}"
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
            errors.append(f"{cname}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            errors.append(f"{cname}: runs as root")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{cname}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            errors.append(f"{cname}: privileged")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []) or sc.get("capabilities", {}).get("add"):
            errors.append(f"{cname}: capabilities are not drop ALL")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            errors.append(f"{cname}: seccompProfile is {seccomp}, not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{cname}: root filesystem is writable")
        if not container.get("resources", {}).get("requests"):
            errors.append(f"{cname}: no resource requests")
        if doc["kind"] == "Deployment" and is_kefu(container):
            for probe in ("readinessProbe", "livenessProbe"):
                if "grpc" not in container.get(probe, {}):
                    errors.append(f"{cname}: {probe} is not a native gRPC probe")
            args = container.get("args", [])
            if args[:2] != ["serve", "--target"] or args[2] != component:
                errors.append(f"{cname}: args {args} do not serve its component {component}")
    return errors


def disruption_errors(docs):
    """A PodDisruptionBudget exactly for the workloads with more than one pod."""
    errors = []
    lowest = {}
    for _, doc in docs:
        if doc["kind"] == "Deployment":
            lowest[doc["metadata"]["name"]] = doc["spec"].get("replicas")
    for _, doc in docs:
        if doc["kind"] == "HorizontalPodAutoscaler":
            lowest[doc["spec"]["scaleTargetRef"]["name"]] = doc["spec"].get("minReplicas", 1)
    budgets = {doc["metadata"]["name"] for _, doc in docs if doc["kind"] == "PodDisruptionBudget"}
    for name, replicas in lowest.items():
        if replicas is None:
            errors.append(f"Deployment/{name}: neither replicas nor an autoscaler")
        elif replicas > 1 and name not in budgets:
            errors.append(f"Deployment/{name}: {replicas} pods at least but no PodDisruptionBudget")
        elif replicas <= 1 and name in budgets:
            errors.append(f"Deployment/{name}: one pod but a PodDisruptionBudget")
    for name in budgets - set(lowest):
        errors.append(f"PodDisruptionBudget/{name}: no Deployment of that name")
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kube-version", action="append", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    failures = []
    total = {"validated": 0, "skipped": {}}
    for path in args.files:
        docs = list(load([path]))
        errors, validated, skipped = schema_errors(docs, args.kube_version)
        failures += errors
        for _, doc in docs:
            if doc["kind"] in WORKLOADS:
                failures += pod_errors(path, doc)
        failures += [f"{path}: {error}" for error in disruption_errors(docs)]
        total["validated"] += validated
        for key, count in skipped.items():
            total["skipped"][key] = total["skipped"].get(key, 0) + count
        print(f"  {path}: {validated} objects checked" + (f", {sum(skipped.values())} custom resources skipped" if skipped else ""))
    skipped = ", ".join(f"{count} {kind} ({CUSTOM_RESOURCES[(api, kind)]})" for (api, kind), count in total["skipped"].items())
    print(
        f"validated {total['validated']} objects from {len(args.files)} renders against Kubernetes "
        f"{', '.join(args.kube_version)} (kubernetes-validate {kubernetes_validate.__version__}, strict)"
        + (f"; skipped, no schema: {skipped}" if skipped else "")
    )
    for failure in failures:
        print("ERROR " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
