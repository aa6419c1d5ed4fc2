#!/usr/bin/env python3
"""Validates a Tenant resource against the CRD's openAPIV3Schema (the CRD in
crds/ is generated from services/operator's Rust type), so the example the
README applies keeps matching what the cluster accepts.

usage: tenant_example.py CRD_YAML TENANT_YAML
"""

import sys

import jsonschema
import yaml


def main():
    crd_path, tenant_path = sys.argv[1:3]
    crd = yaml.safe_load(open(crd_path, encoding="utf-8"))
    tenant = yaml.safe_load(open(tenant_path, encoding="utf-8"))
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    api_group, _, version = tenant["apiVersion"].partition("/")
    if (api_group, tenant["kind"]) != (group, kind):
        sys.exit(f"{tenant_path} is {tenant['apiVersion']} {tenant['kind']}, the CRD {group} {kind}")
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    if version not in served:
        sys.exit(f"{tenant_path}: version {version} is not served (served: {', '.join(served)})")
    schema = served[version]["schema"]["openAPIV3Schema"]
    # The object as the API server sees it, less what it fills in itself.
    errors = sorted(jsonschema.Draft7Validator(schema["properties"]["spec"]).iter_errors(tenant["spec"]), key=str)
    for error in errors:
        print(f"ERROR {tenant_path}: spec.{'.'.join(map(str, error.path))}: {error.message}")
    print(f"{tenant_path}: {'valid' if not errors else 'invalid'} against {crd_path} ({group}/{version} {kind})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
