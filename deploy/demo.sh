#!/usr/bin/env bash
# The README's main command (`make demo`). Until the coordinator and agent land (README
# "Status"), it builds the three executables and tours their command trees.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/common.sh
install_system_packages
log "building cassnap (debug)"
swift build
bin=$(swift build --show-bin-path)
for exe in cassnap cassnap-agent cassnap-coordinator; do
    log "$exe --help"
    "$bin/$exe" --help
done
log "cassnap snapshot create --help"
"$bin/cassnap" snapshot create --help
