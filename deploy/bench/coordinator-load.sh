#!/usr/bin/env bash
# Load benchmark of the coordinator: N simulated nodes report F SSTable file reports each
# against a real `cassnap-coordinator` process (release build), then one snapshot on every
# node lists them all. Prints ingest rate (reports/s), `snapshot sstables` latency for the
# full set and for one node, and the coordinator's peak RSS.
#
#   deploy/bench/coordinator-load.sh [NODES] [FILES_PER_NODE]     # default 1000 × 10000
#
# Environment: CASSNAP_BENCH_BATCH (reports per request, 1000), CASSNAP_BENCH_WORKERS (8),
# SCRATCH (SwiftPM scratch path, .build-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
NODES=${1:-1000}
FILES=${2:-10000}
SCRATCH=${SCRATCH:-.build-bench}

swift build -c release --product cassnap-coordinator --scratch-path "$SCRATCH"
swift build --build-tests --scratch-path "$SCRATCH"
CASSNAP_TEST_BINARIES="$SCRATCH/release" \
CASSNAP_BENCH_NODES=$NODES CASSNAP_BENCH_FILES=$FILES \
    swift test --skip-build --scratch-path "$SCRATCH" \
    --filter 'CassnapCoordinatorTests.CoordinatorLoadBenchmark' 2>&1 \
    | grep -E 'cassnap coordinator load|^  |✔|✘|error'
