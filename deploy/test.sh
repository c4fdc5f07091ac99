#!/usr/bin/env bash
# The one test command (README: `make test`). On a fresh Debian machine it installs the -dev
# packages and the test servers, starts a real S3 server (moto_server) and a GCS emulator
# (fake-gcs-server) on free loopback ports, runs every Swift test against them, and stops the
# servers again, also when tests fail. Extra arguments go to `swift test` (e.g. --filter S3).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/common.sh

install_system_packages
install_python_tools
trap 'stop_servers; rm -rf "$CASSNAP_RUN_DIR"' EXIT
start_metadata_tripwire
start_s3_server
start_s3_auth_server
start_rclone_s3_server
start_gcs_server

log "building (debug, with tests)"
swift build --build-tests

if [ "$#" -gt 0 ]; then
    log "running swift test $*"
    status=0
    swift test --skip-build "$@" || status=$?
    check_metadata_tripwire || status=1
    exit "$status"
fi

# Suites that start many processes, storm the file system or stream gigabytes run one at a
# time after the rest: run in parallel with everything else on two cores, their bounded waits
# measure the machine's load instead of cassnap.
heavy=(AgentStormTests AgentOverflowTests AgentWatchLimitTests AgentProcessTests ClusterEndToEndTests CoordinatorProcessTests
    CoordinatorLoadBenchmark ResumeAfterKillTests WatcherOverflowTests)
results="$CASSNAP_RUN_DIR/test-output.txt"
status=0
run_tests() {
    swift test --skip-build "$@" 2>&1 | tee -a "$results"
    return "${PIPESTATUS[0]}"
}
# Swift Testing starts every test at once by default; on two cores, hundreds of concurrent
# tests turn a 10 s snapshot deadline into a race with the scheduler. Four at a time keeps the
# machine busy without that (CASSNAP_TEST_WIDTH overrides it).
log "running tests (all but the heavy suites, ${CASSNAP_TEST_WIDTH:-4} at a time)"
SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${CASSNAP_TEST_WIDTH:-4}" run_tests --skip "$(IFS='|'; echo "${heavy[*]}")" || status=1
for suite in "${heavy[@]}"; do
    log "running $suite"
    run_tests --filter "$suite" || status=1
done
# The API fuzzed from coordinator/openapi.yaml: no request may get a 5xx (issue 11).
log "fuzzing the coordinator's API (schemathesis)"
./deploy/fuzz-api.sh 2>&1 | tee -a "$CASSNAP_RUN_DIR/fuzz.txt" || status=1
# One closing line for all the runs above.
passed=$(grep -cE '^.{0,4}Test [^r].* passed after' "$results" || true)
failed=$(grep -cE '^.{0,4}Test [^r].* failed after' "$results" || true)
skipped=$(grep -cE '^.{0,4}Test [^r].* skipped' "$results" || true)
fuzzed=$(grep -oE '[0-9]+ generated, [0-9]+ passed' "$CASSNAP_RUN_DIR/fuzz.txt" | awk '{g += $1; p += $3} END {print g + 0, "generated,", p + 0, "passed"}')
echo "cassnap: $passed passed, $failed failed, $skipped skipped; API fuzz: $fuzzed"
check_metadata_tripwire || status=1
exit "$status"
