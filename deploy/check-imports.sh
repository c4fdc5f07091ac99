#!/usr/bin/env bash
# Checks the import graph against Sources/README.md: every target has a section, and imports
# only what its "May import" line lists (Foundation, Glibc and Synchronization always allowed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import os, re, sys
readme = open("Sources/README.md").read()
allowed = {}
for section in re.split(r"^## ", readme, flags=re.M)[1:]:
    names = [n.strip() for n in section.splitlines()[0].split(",")]
    m = re.search(r"^- May import: (.*)$", section, flags=re.M)
    if not m:
        sys.exit(f"Sources/README.md: section {names} has no 'May import' line")
    imports = set() if m.group(1).strip() == "(nothing)" else {i.strip() for i in m.group(1).split(",")}
    for n in names:
        allowed[n] = imports
always = {"Foundation", "Glibc", "Synchronization", "FoundationEssentials"}
bad = []
for target in sorted(os.listdir("Sources")):
    path = os.path.join("Sources", target)
    if not os.path.isdir(path):
        continue
    if target not in allowed:
        bad.append(f"{target}: no section in Sources/README.md")
        continue
    for root, _, files in os.walk(path):
        for f in files:
            if not f.endswith(".swift"):
                continue
            for n, line in enumerate(open(os.path.join(root, f)), 1):
                m = re.match(r"\s*(?:@testable\s+|@_\w+\s+)*import\s+(?:struct\s+|enum\s+|class\s+)?(\w+)", line)
                if m and m.group(1) not in always | allowed[target]:
                    bad.append(f"{os.path.join(root, f)}:{n}: {target} may not import {m.group(1)}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
print(f"imports: {len(allowed)} targets checked against Sources/README.md")
PY
