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
start_s3_server
start_s3_auth_server
start_rclone_s3_server
start_gcs_server

log "building (debug, with tests)"
swift build --build-tests
log "running tests"
# Serial XCTest output keeps the summary visible; Swift Testing parallelises inside one process.
swift test --skip-build "$@"
