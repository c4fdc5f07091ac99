#!/usr/bin/env bash
# The README's main command (`make demo`): a three-node demo cluster on embedded defaults.
# It builds cassnap, starts a coordinator on SQLite, generates three Cassandra nodes' data
# directories driven by the fake nodetool, starts an agent on each, keeps flushes running,
# takes a cluster snapshot a few seconds ahead, prints `snapshot show` and `snapshot sstables`,
# restores one node from the bucket alone and compares it with that node's snapshot (files,
# bytes, every SHA-256), and cleans up after itself. The store is a local directory; `--s3` uses a local S3 server.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/common.sh
declare -a hosts datas

STORE_KIND=file
for arg in "$@"; do
    case "$arg" in
        --s3) STORE_KIND=s3 ;;
        --keep) KEEP=1 ;;
        *) die "unknown option $arg (known: --s3, --keep)" ;;
    esac
done

install_system_packages
[ "$STORE_KIND" = s3 ] && install_python_tools
log "building cassnap"
swift build --product cassnap >/dev/null
swift build --product cassnap-agent >/dev/null
swift build --product cassnap-coordinator >/dev/null
swift build --product fake-nodetool >/dev/null
bin=$(swift build --show-bin-path)

work=$(mktemp -d /tmp/cassnap-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
    stop_servers
    if [ -n "${KEEP:-}" ]; then log "kept $work"; else rm -rf "$work" "$CASSNAP_RUN_DIR"; fi
}
trap cleanup EXIT

if [ "$STORE_KIND" = s3 ]; then
    start_s3_server
    export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$CASSNAP_TEST_S3_ENDPOINT"
    curl -sf -X PUT -H 'Content-Length: 0' "$CASSNAP_TEST_S3_ENDPOINT/cassnap-demo" >/dev/null
    store="s3://cassnap-demo/backups"
else
    store="file://$work/bucket"
fi

port=$(free_port)
export CASSNAP_COORDINATOR="http://127.0.0.1:$port" CASSNAP_TOKEN=demo-admin-token
export CASSNAP_AGENT_TOKEN=demo-agent-token CASSNAP_ADMIN_TOKEN=demo-admin-token
cat >"$work/coordinator.yaml" <<YAML
listen: 127.0.0.1:$port
database: $work/catalog.sqlite
store: $store
snapshots:
  deadline_seconds: 60
  live_node_seconds: 30
  clear_after_upload: false
YAML
log "coordinator on 127.0.0.1:$port, store $store"
"$bin/cassnap-coordinator" run --config "$work/coordinator.yaml" >"$work/coordinator.log" 2>&1 &
pids+=($!)

# No cluster name anywhere: the agents learn it from `nodetool describecluster` (Cassandra's
# default, Test Cluster), which is also the coordinator's default.
for n in 1 2 3; do
    node="$work/node$n"
    host_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
    data=$("$bin/fake-nodetool" populate --root "$node" --keyspaces 2 --tables 3 --sstables 4 --seed "$n" --host-id "$host_id" 2>/dev/null)
    # The agent calls `nodetool`; this node's is the fake one, pointed at its data directory.
    printf '#!/bin/sh\nFAKE_NODETOOL_DATA_DIR=%s FAKE_NODETOOL_ADDRESS=127.0.0.%s exec %s "$@"\n' "$data" "$n" "$bin/fake-nodetool" >"$node/nodetool"
    chmod +x "$node/nodetool"
    log "node$n: host $host_id, data $data"
    hosts[$n]=$host_id datas[$n]=$data
    "$bin/cassnap-agent" run --data-dir "$data" --store "$store" --state-dir "$node/agent-state" \
        --coordinator "$CASSNAP_COORDINATOR" --nodetool "$node/nodetool" >"$work/agent$n.log" 2>&1 &
    pids+=($!)
done

# Flushes keep running on every node, as on a live cluster (bounded: 30 rounds).
(
    for _ in $(seq 1 30); do
        for n in 1 2 3; do "$work/node$n/nodetool" flush ks0 --size 32K >/dev/null 2>&1 || true; done
        sleep 1
    done
) &
pids+=($!)

log "waiting for the three agents to register"
for _ in $(seq 1 60); do
    count=$("$bin/cassnap" nodes --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
    [ "$count" = 3 ] && break
    sleep 1
done
[ "$count" = 3 ] || die "only $count of 3 agents registered (logs in $work; rerun with --keep)"
"$bin/cassnap" nodes

log "cassnap snapshot create --in 5s --tag demo-1 --wait"
"$bin/cassnap" snapshot create --in 5s --tag demo-1 --wait
log "cassnap snapshot show demo-1"
"$bin/cassnap" snapshot show demo-1
log "cassnap snapshot sstables demo-1 (first 25 lines)"
"$bin/cassnap" snapshot sstables demo-1 >"$work/sstables.txt"
head -25 "$work/sstables.txt"
log "$(($(wc -l <"$work/sstables.txt") - 1)) SSTable component files in the snapshot"

# The other half: node1 comes back from the bucket alone (no coordinator involved), and every
# restored file is compared with node1's snapshot directories: names, bytes, SHA-256.
log "cassnap restore demo-1 --node ${hosts[1]} --to $work/restore --store $store --cluster 'Test Cluster'"
"$bin/cassnap" restore demo-1 --node "${hosts[1]}" --to "$work/restore" --store "$store" --cluster 'Test Cluster' >"$work/restore.txt"
head -12 "$work/restore.txt"
log "cassnap verify demo-1 --deep"
"$bin/cassnap" verify demo-1 --deep
python3 - "$work/restore/${hosts[1]}" "${datas[1]}" demo-1 <<'PY'
import hashlib, os, sys
restored, data, tag = sys.argv[1:4]
def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
want, got = {}, {}
for root, _, files in os.walk(data):
    parts = os.path.relpath(root, data).split(os.sep)
    if len(parts) >= 4 and parts[2] == "snapshots" and parts[3] == tag:
        for name in files:
            rel = os.path.join(parts[0], parts[1], *parts[4:], name)
            want[rel] = (os.path.getsize(os.path.join(root, name)), digest(os.path.join(root, name)))
for root, _, files in os.walk(restored):
    for name in files:
        rel = os.path.relpath(os.path.join(root, name), restored)
        if os.sep in rel:  # schema.cql and tokens.json of the node sit at the top
            got[rel] = (os.path.getsize(os.path.join(root, name)), digest(os.path.join(root, name)))
size = sum(v[0] for v in want.values())
if want and want == got:
    print(f"==> restore matches node1's snapshot: {len(want)} files, {size} bytes, every SHA-256 equal")
else:
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    differ = sorted(k for k in set(want) & set(got) if want[k] != got[k])[:5]
    sys.exit(f"error: restore differs: missing {missing} extra {extra} differ {differ}")
PY

