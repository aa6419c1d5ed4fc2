#!/usr/bin/env python3
"""deploy/docker-compose.yaml and the chart describe the same cluster.

For every target, the compose service and the chart's workload run the same
command and get the same KEFU_* variable names; the values that are not
about the surroundings (ports, service names, limits, pool size) are equal;
the gateway's upstreams name the right service. Every KEFU_* name both use
is a real setting of services/kit/src/config.rs (an unknown one would stop
the process at start).

Documented exceptions (EXCEPTIONS below): the operator runs only on
Kubernetes (it reconciles Tenant resources through the Kubernetes API).

usage: consistency.py COMPOSE_FILE RENDERED_CHART CONFIG_RS
"""

import re
import sys

import yaml

# Targets one side has and the other does not, with the reason.
EXCEPTIONS = {
    "operator": "Kubernetes only: it reconciles Tenant resources through the Kubernetes API",
}

# Variables whose values must be equal on both sides (the rest name hosts,
# secrets or laptop-vs-cluster choices such as the log format).
SAME_VALUE = re.compile(
    r"^KEFU_(LISTEN__SERVICE|LISTEN__GATEWAY|TELEMETRY__SERVICE_NAME|BUS__NAMESPACE"
    r"|AUTH__CREDENTIAL_TTL_SECS|STORAGE__MAX_CONNECTIONS|LIMITS__.*)$"
)

def settings(config_rs):
    """KEFU_SECTION__FIELD (and deeper, KEFU_OPERATOR__SILO__IMAGE) for every
    leaf field reachable from KefuConfig."""
    text = open(config_rs, encoding="utf-8").read()
    structs = dict(re.findall(r"pub struct (\w+) \{(.*?)\n\}", text, re.S))
    if "KefuConfig" not in structs:
        sys.exit(f"{config_rs}: no struct KefuConfig")
    names = set()

    def walk(struct, prefix):
        for field, kind in re.findall(r"^\s*pub (\w+): ([\w<>:]+),", structs[struct], re.M):
            name = f"{prefix}__{field.upper()}" if prefix != "KEFU" else f"KEFU_{field.upper()}"
            if kind in structs:
                walk(kind, name)
            else:
                names.add(name)

    walk("KefuConfig", "KEFU")
    return names


def target_of(command):
    if command[:2] == ["serve", "--target"]:
        return command[2]
    if command[:1] == ["migrate"]:
        return "migrate"
    return None


def compose_targets(path):
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    targets = {}
    for name, service in doc["services"].items():
        command = service.get("command") or []
        target = target_of(command)
        if target is None:
            continue
        if target != "migrate" and name != target:
            sys.exit(f"compose service {name} runs target {target}")
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        targets[target] = (command, {k: str(v) for k, v in env.items() if k.startswith("KEFU_")})
    return targets


def chart_targets(path):
    targets = {}
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        if not doc or doc.get("kind") not in ("Deployment", "Job"):
            continue
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        container = doc["spec"]["template"]["spec"]["containers"][0]
        target = "migrate" if component == "migrations" else component
        env = {e["name"]: e.get("value", "<secret>") for e in container.get("env", []) if e["name"].startswith("KEFU_")}
        targets[target] = (container.get("args", []), env)
    return targets


def main():
    compose_path, chart_path, config_rs = sys.argv[1:4]
    known = settings(config_rs)
    compose, chart = compose_targets(compose_path), chart_targets(chart_path)
    errors = []
    for target in sorted(set(compose) | set(chart)):
        if target in EXCEPTIONS:
            if target in compose:
                errors.append(f"{target}: listed as chart-only ({EXCEPTIONS[target]}) but in compose")
            for name in sorted(chart[target][1]):
                if name not in known:
                    errors.append(f"{target}: {name} is not a setting of {config_rs}")
            continue
        if target not in compose or target not in chart:
            errors.append(f"{target}: only in {'compose' if target in compose else 'the chart'}")
            continue
        (c_cmd, c_env), (k_cmd, k_env) = compose[target], chart[target]
        if c_cmd != k_cmd:
            errors.append(f"{target}: compose runs {c_cmd}, the chart {k_cmd}")
        for name in sorted(set(c_env) ^ set(k_env)):
            side = "compose" if name in c_env else "the chart"
            errors.append(f"{target}: {name} only in {side}")
        for name in sorted(set(c_env) & set(k_env)):
            if SAME_VALUE.match(name) and c_env[name] != k_env[name]:
                errors.append(f"{target}: {name} is {c_env[name]!r} in compose, {k_env[name]!r} in the chart")
            if name.startswith("KEFU_UPSTREAMS__"):
                service = name.removeprefix("KEFU_UPSTREAMS__").lower()
                for side, value in (("compose", c_env[name]), ("the chart", k_env[name])):
                    if not re.search(r"(^|[/-])" + service + r":\d+$", value):
                        errors.append(f"{target}: {name} in {side} is {value}, not the {service} service")
        for name in sorted(set(c_env) | set(k_env)):
            if name not in known:
                errors.append(f"{target}: {name} is not a setting of {config_rs}")
    for target in sorted(set(compose) | set(chart)):
        env = chart.get(target, compose.get(target))[1]
        print(f"  {target}: {len(env)} KEFU_* variables" + (" (chart only)" if target in EXCEPTIONS else ""))
    for error in errors:
        print("ERROR " + error)
    print(f"compose and chart: {len(set(compose) | set(chart))} targets compared, {len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
