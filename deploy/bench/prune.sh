#!/usr/bin/env bash
# Prune benchmark (issue 10): how fast `cassnap prune` deletes unreferenced pool objects from
# moto, and whether it batches them (S3 DeleteObjects, counted in moto's request log). One
# retained snapshot of a few SSTables plus PRUNE_OBJECTS pool objects that no manifest lists,
# older than the grace period (1 s: --grace refuses 0). The snapshot must still verify deeply
# afterwards. Not a test: it prints figures.
#
#   ./deploy/bench/prune.sh                    # 20,000 objects of 512 bytes
#   PRUNE_OBJECTS=2000 ./deploy/bench/prune.sh # quick
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib/common.sh

PRUNE_OBJECTS=${PRUNE_OBJECTS:-20000}
PRUNE_BYTES=${PRUNE_BYTES:-512}
KEPT_FILES=${KEPT_FILES:-16}
UPLOAD_TRANSFERS=${UPLOAD_TRANSFERS:-8}

bench_setup
HOST=6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7
CLUSTER=bench TAG=bench-prune BUCKET=bench-prune

work=$(mktemp -d /tmp/cassnap-bench.XXXXXX)
results="$work/results.jsonl"
# RESULTS_OUT=file keeps the raw JSON lines after the run.
trap '[ -z "${RESULTS_OUT:-}" ] || cp "$results" "$RESULTS_OUT"; stop_servers; rm -rf "$work" "$CASSNAP_RUN_DIR"' EXIT

log "generating $KEPT_FILES referenced files and $PRUNE_OBJECTS unreferenced ones of $PRUNE_BYTES bytes"
python3 deploy/bench/restore-fixture.py "$work/fixture" --cluster "$CLUSTER" --host "$HOST" --tag "$TAG" \
    --small "$KEPT_FILES" --small-kib 1 --tables 2 --unreferenced "$PRUNE_OBJECTS" \
    --unreferenced-bytes "$PRUNE_BYTES" >/dev/null

start_s3_server
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$CASSNAP_TEST_S3_ENDPOINT"
curl -sf -X PUT -H 'Content-Length: 0' "$AWS_ENDPOINT_URL/$BUCKET" >/dev/null
store=(--store "s3://$BUCKET" --cluster "$CLUSTER")

log "uploading $((KEPT_FILES + PRUNE_OBJECTS)) pool objects ($UPLOAD_TRANSFERS transfers)"
"$CASSNAP" store copy "$work/fixture/data" "s3://$BUCKET" --prefix "$CLUSTER/nodes/$HOST/data" \
    --transfers "$UPLOAD_TRANSFERS" >/dev/null
"$CASSNAP" store put "s3://$BUCKET" "$CLUSTER/nodes/$HOST/snapshots/$TAG/manifest.json" "$work/fixture/manifest.json" >/dev/null
"$CASSNAP" store put "s3://$BUCKET" "$CLUSTER/snapshots/$TAG.json" "$work/fixture/record.json" >/dev/null
"$CASSNAP" verify "$TAG" "${store[@]}" >/dev/null || die "the fixture does not verify"
before=$("$CASSNAP" store ls "s3://$BUCKET" | wc -l)
sleep 2  # every object is now older than --grace 1s

log "cassnap prune --dry-run (lists and marks, deletes nothing)"
$MEASURE prune-dry -- "$CASSNAP" prune --keep-last 1 --grace 1s --dry-run "${store[@]}" | tee -a "$results"
mark=$(wc -l <"$CASSNAP_RUN_DIR/moto.log")
log "cassnap prune"
$MEASURE prune -- "$CASSNAP" prune --keep-last 1 --grace 1s "${store[@]}" | tee -a "$results"
batches=$(tail -n +"$((mark + 1))" "$CASSNAP_RUN_DIR/moto.log" | grep -c "\"POST /$BUCKET?delete" || true)
singles=$(tail -n +"$((mark + 1))" "$CASSNAP_RUN_DIR/moto.log" | grep -c "\"DELETE /$BUCKET/" || true)
after=$("$CASSNAP" store ls "s3://$BUCKET" | wc -l)
"$CASSNAP" verify "$TAG" --deep "${store[@]}" >/dev/null || die "prune broke the retained snapshot"

python3 - "$results" "$PRUNE_OBJECTS" "$before" "$after" "$batches" "$singles" "$KEPT_FILES" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
n, before, after, batches, singles, kept = map(int, sys.argv[2:])
p, d = rows["prune"], rows["prune-dry"]
print()
print("| run | wall s | cpu s | peak RSS MB | exit | output |")
print("|---|---|---|---|---|---|")
for k in ["prune-dry", "prune"]:
    x = rows[k]
    print(f"| {k} | {x['wall_s']} | {x['cpu_s']} | {x['peak_rss_mb']} | {x['exit']} | {x['tail'][-1]} |")
print()
print(f"objects in the bucket: {before} before, {after} after (want {kept + 2}: kept files, manifest, record)")
print(f"requests during the prune: {batches} DeleteObjects, {singles} single DELETEs")
print(f"deletion rate, whole prune (list, mark, delete): {n / p['wall_s']:.0f} objects/s")
if p["wall_s"] > d["wall_s"]:
    print(f"deletion rate, prune minus dry run (the deletes alone): {n / (p['wall_s'] - d['wall_s']):.0f} objects/s")
ok = after == kept + 2 and p["exit"] == 0 and d["exit"] == 0 and singles == 0
sys.exit(0 if ok else 1)
PY
