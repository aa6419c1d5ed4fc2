#!/usr/bin/env python3
"""Every value in values.yaml has a comment: the line above a key (or the
end of its line) says what it is. Keys inside Kubernetes objects passed
through as they are (resources, security contexts, probe timings, label
selectors, list items) are documented by the comment of the object.

usage: values_documented.py values.yaml
"""

import re
import sys

# Objects whose keys are Kubernetes' own fields, documented as a whole.
PASSTHROUGH = {
    "resources", "podSecurityContext", "securityContext", "readiness", "liveness",
    "namespaceSelector", "annotations",
}

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")


def main():
    path = sys.argv[1]
    lines = open(path, encoding="utf-8").read().splitlines()
    stack = []  # (indent, key)
    undocumented = []
    keys = 0
    in_list_below = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if in_list_below is not None and indent > in_list_below:
            continue  # inside a list item: part of a Kubernetes object
        in_list_below = None
        if stripped.startswith("- "):
            in_list_below = indent - 1 if indent else 0
            continue
        match = KEY.match(line)
        if not match:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parents = [key for _, key in stack]
        stack.append((indent, match.group("key")))
        if match.group("rest").strip() == "":
            # a list may follow at the same indentation
            in_list_below = None
        if any(parent in PASSTHROUGH for parent in parents):
            continue
        keys += 1
        previous = lines[number - 2].strip() if number > 1 else ""
        if not previous.startswith("#") and "#" not in match.group("rest"):
            undocumented.append(f"{path}:{number}: {'.'.join(parents + [match.group('key')])}")
    for entry in undocumented:
        print("ERROR undocumented value " + entry)
    print(f"values.yaml: {keys} values, {len(undocumented)} without a comment")
    return 1 if undocumented else 0


if __name__ == "__main__":
    sys.exit(main())
