#!/usr/bin/env bash
# Hostile-client benchmark of the coordinator (issue 9: large bodies, a huge manifest, idle and
# trickling connections, one node's backlog stalling another's heartbeats). Builds the release
# coordinator and runs deploy/bench/coordinator-hostile.py against it; with BASE_BIN set (an
# older cassnap-coordinator binary) it runs that first, so both figures come from one run.
#
#   deploy/bench/coordinator-hostile.sh                   # this tree
#   BASE_BIN=/path/to/old/cassnap-coordinator deploy/bench/coordinator-hostile.sh
#
# Environment: IDLE_WAIT (seconds the 500 connections are watched, 60), SCRATCH (.build-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCRATCH=${SCRATCH:-.build-bench}
export AWS_EC2_METADATA_DISABLED=true
swift build -c release --product cassnap-coordinator --scratch-path "$SCRATCH" >&2
if [ -n "${BASE_BIN:-}" ]; then python3 deploy/bench/coordinator-hostile.py "$BASE_BIN" before; fi
python3 deploy/bench/coordinator-hostile.py "$SCRATCH/release/cassnap-coordinator" after
