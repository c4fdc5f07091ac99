#!/usr/bin/env bash
# Debian packages (README: `make deb`): cassnap-agent_<version>_<arch>.deb for every Cassandra
# node, and cassnap-coordinator_<version>_<arch>.deb (the coordinator and the CLI) for the
# coordinator's host. Each holds the binaries, the systemd unit, the example configuration as a
# conffile under /etc/cassnap/, the operator README, and maintainer scripts that create the
# `cassnap` system user and stop the service on removal.
#
#   deploy/deb.sh                           # release binaries: builds dist/ with deploy/release.sh
#   BIN_DIR=.build/debug OUT_DIR=/tmp/debs DEB_COMPRESSION=none deploy/deb.sh  # binaries built elsewhere (tests)
#
# Maintainer scripts honour DPKG_ROOT, so the tests install into a scratch root.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/common.sh

VERSION=${VERSION:-$(sed -n 's/.*string = "\(.*\)".*/\1/p' Sources/CassnapAPI/CassnapVersion.swift | head -1)}
[ -n "$VERSION" ] || die "cannot read the version from Sources/CassnapAPI/CassnapVersion.swift"
VERSION=${VERSION//-/\~} # 0.1.0-dev → 0.1.0~dev, which Debian orders before 0.1.0
ARCH=${ARCH:-$(dpkg --print-architecture)}
OUT_DIR=${OUT_DIR:-dist}
if [ -z "${BIN_DIR:-}" ]; then
    ./deploy/release.sh
    BIN_DIR=dist
fi
for bin in cassnap-agent cassnap-coordinator cassnap; do
    [ -x "$BIN_DIR/$bin" ] || die "$BIN_DIR/$bin is missing: build it first (make release)"
done
mkdir -p "$OUT_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The user both services run as; the agent's is also in Cassandra's group, to read its files.
user_script() {
    cat <<'SH'
root="${DPKG_ROOT:-}"
if ! grep -q '^cassnap:' "$root/etc/passwd" 2>/dev/null; then
    useradd ${root:+--root "$root"} --system --no-create-home --home-dir /var/lib/cassnap \
        --shell /usr/sbin/nologin --user-group cassnap
fi
# Numeric ids from the root's own files (under DPKG_ROOT the host's names mean nothing).
uid=$(awk -F: '$1 == "cassnap" {print $3}' "$root/etc/passwd")
gid=$(awk -F: '$1 == "cassnap" {print $3}' "$root/etc/group")
SH
}

# maintainer_scripts NAME STATE_DIR MODE CONFIG EXTRA: postinst (the user, EXTRA, the state
# directory, the config's group) and prerm (stop the service) in $stage/DEBIAN.
maintainer_scripts() {
    local name=$1 state=$2 mode=$3 config=$4 extra=$5
    {
        echo '#!/bin/sh'
        echo 'set -e'
        user_script
        [ -z "$extra" ] || echo "$extra"
        cat <<SH
install -d -m $mode -o "\$uid" -g "\$gid" "\$root$state"
chown "0:\$gid" "\$root/etc/cassnap" "\$root/etc/cassnap/$config"
chmod 0750 "\$root/etc/cassnap"
if [ -z "\$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
SH
    } >"$stage/DEBIAN/postinst"
    printf '#!/bin/sh\nset -e\nif [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then systemctl stop %s.service || true; fi\n' \
        "$name" >"$stage/DEBIAN/prerm"
}

# package NAME DESCRIPTION DEPENDS: stage in $work/NAME, then dpkg-deb.
package() {
    local name=$1 description=$2 depends=$3 stage="$work/$1"
    mkdir -p "$stage/DEBIAN"
    cat >"$stage/DEBIAN/control" <<EOF
Package: $name
Version: $VERSION
Architecture: $ARCH
Maintainer: cassnap <cassnap@localhost>
Section: admin
Priority: optional
Depends: $depends
Description: $description
 cassnap takes cluster-wide, point-in-time backups of Apache Cassandra to S3, GCS or a
 directory, restores them, verifies and prunes them.
EOF
    find "$stage/etc" -type f | sed "s|^$stage||" >"$stage/DEBIAN/conffiles"
    chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"
    fakeroot dpkg-deb --build --root-owner-group -Z"${DEB_COMPRESSION:-xz}" "$stage" \
        "$OUT_DIR/${name}_${VERSION}_${ARCH}.deb" >/dev/null
    log "$OUT_DIR/${name}_${VERSION}_${ARCH}.deb"
}

runtime_libraries="libc6, libcurl4, libssl3, libsqlite3-0"

# Agent.
stage="$work/cassnap-agent"
mkdir -p "$stage/DEBIAN"
install -D -m 0755 "$BIN_DIR/cassnap-agent" "$stage/usr/bin/cassnap-agent"
install -D -m 0640 agent/agent.yaml "$stage/etc/cassnap/agent.yaml"
install -D -m 0644 agent/cassnap-agent.service "$stage/lib/systemd/system/cassnap-agent.service"
install -D -m 0644 agent/README.md "$stage/usr/share/doc/cassnap/agent/README.md"
maintainer_scripts cassnap-agent /var/lib/cassnap-agent 0700 agent.yaml "$(cat <<'SH'
# Read access to Cassandra's data directories comes from its group.
if grep -q '^cassandra:' "$root/etc/group" 2>/dev/null; then
    usermod ${root:+--root "$root"} -a -G cassandra cassnap
fi
SH
)"
package cassnap-agent "cassnap agent: ships a Cassandra node's SSTables to object storage" "$runtime_libraries"

# Coordinator and CLI.
stage="$work/cassnap-coordinator"
mkdir -p "$stage/DEBIAN"
install -D -m 0755 "$BIN_DIR/cassnap-coordinator" "$stage/usr/bin/cassnap-coordinator"
install -D -m 0755 "$BIN_DIR/cassnap" "$stage/usr/bin/cassnap"
install -D -m 0640 coordinator/coordinator.yaml "$stage/etc/cassnap/coordinator.yaml"
install -D -m 0644 coordinator/cassnap-coordinator.service \
    "$stage/lib/systemd/system/cassnap-coordinator.service"
install -D -m 0644 coordinator/README.md "$stage/usr/share/doc/cassnap/coordinator/README.md"
install -D -m 0644 coordinator/openapi.yaml "$stage/usr/share/doc/cassnap/coordinator/openapi.yaml"
maintainer_scripts cassnap-coordinator /var/lib/cassnap 0750 coordinator.yaml ""
package cassnap-coordinator "cassnap coordinator and CLI: cluster snapshots, schedules, restore" \
    "$runtime_libraries"
