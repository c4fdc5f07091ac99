#!/usr/bin/env bash
# Release binaries for nodes: cassnap-agent, cassnap-coordinator and cassnap, built with the
# Swift runtime and Foundation linked in statically and stripped, into dist/. A node then needs
# no Swift toolchain, only the design card's libraries from its distribution:
#   apt-get install libcurl4 libssl3 libsqlite3-0        (Debian 12 / Ubuntu 22.04+ names)
#
#   deploy/release.sh                        # all three
#   PRODUCTS=cassnap-agent deploy/release.sh # just the agent
# Cold, this takes a while on 2 cores (the coordinator's HTTP stack); it uses its own
# .build-release-static scratch path so debug builds are untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/common.sh
install_system_packages

PRODUCTS=${PRODUCTS:-cassnap-agent cassnap-coordinator cassnap}
SCRATCH=.build-release-static
mkdir -p dist
for product in $PRODUCTS; do
    log "building $product (release, static Swift runtime)"
    swift build -c release --static-swift-stdlib --product "$product" --scratch-path "$SCRATCH" 2>&1 |
        grep -v "the use of \`mktemp' is dangerous" | grep -E "error|warning: |Build of" || true
    bin="$SCRATCH/release/$product"
    [ -x "$bin" ] || die "the build left no $bin"
    strip -o "dist/$product" "$bin"
    # What the node must provide: nothing of the Swift toolchain.
    needed=$(readelf -d "dist/$product" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}' | tr '\n' ' ')
    if grep -q -E 'libswift|libFoundation|libdispatch' <<<"$needed"; then
        die "dist/$product still needs the Swift runtime: $needed"
    fi
    log "dist/$product: $(du -h "dist/$product" | cut -f1), needs: $needed"
done
