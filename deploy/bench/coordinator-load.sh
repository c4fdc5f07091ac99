#!/usr/bin/env bash
# Load benchmark of the coordinator: N simulated nodes report F SSTable file reports each
# against a real `cassnap-coordinator` process (release build), then one snapshot on every
# node lists them all. Prints ingest rate (reports/s); `snapshot sstables` read page by page
# (as the CLI does) for the full set, for one node and for one node's table: latency of the
# first page, of all pages together, per-page median and max; and the coordinator's RSS from
# /proc/PID/status: VmHWM (peak) before and after the queries, and VmRSS.
#
#   deploy/bench/coordinator-load.sh [NODES] [FILES_PER_NODE]     # default 1000 × 10000
#
# Environment: CASSNAP_BENCH_BATCH (reports per request, 1000), CASSNAP_BENCH_WORKERS (8),
# CASSNAP_BENCH_PAGE (SSTables per page, the server default 5000),
# SCRATCH (SwiftPM scratch path, .build-bench).
# Disk: about 2.3 KB per file report under $TMPDIR (catalog ≈ 0.8 KB; the bucket holds each object,
# 1 KB and up, because the coordinator checks every manifest object in the bucket; manifests):
# 1000 × 10000 needs ≈ 12 GB and ran 16 min on 2 shared cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Never ask a real cloud for credentials (deploy/lib/common.sh says why).
export AWS_EC2_METADATA_DISABLED=true AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 GCE_METADATA_HOST=127.0.0.1:1
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
