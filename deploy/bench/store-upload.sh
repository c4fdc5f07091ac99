#!/usr/bin/env bash
# Upload benchmark (issue 3): the same tree to the same S3 server with cassnap's store
# (`cassnap store copy`) and with `rclone copy`, in one run, and the ratio; then cassnap's
# peak RSS while uploading 8 files of 1 GiB in parallel. Not a test: it prints figures.
#
#   ./deploy/bench/store-upload.sh            # a few 1 GiB files + thousands of small ones
#   BIG_FILES=1 BIG_MIB=256 SMALL_FILES=500 PARALLEL_MIB=256 ./deploy/bench/store-upload.sh   # quick
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib/common.sh

BIG_FILES=${BIG_FILES:-3}
BIG_MIB=${BIG_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-3000}
SMALL_KIB=${SMALL_KIB:-16}
PARALLEL_FILES=${PARALLEL_FILES:-8}
PARALLEL_MIB=${PARALLEL_MIB:-1024}
TRANSFERS=${TRANSFERS:-4}

bench_setup

work=$(mktemp -d /tmp/cassnap-bench.XXXXXX)
trap 'stop_servers; rm -rf "$work" "$CASSNAP_RUN_DIR"' EXIT

log "generating the tree: $BIG_FILES x $BIG_MIB MiB + $SMALL_FILES x $SMALL_KIB KiB"
mkdir -p "$work/tree/big" "$work/tree/small" "$work/parallel"
for i in $(seq 1 "$BIG_FILES"); do head -c "$((BIG_MIB << 20))" /dev/urandom >"$work/tree/big/nb-$i-big-Data.db"; done
python3 - "$work/tree/small" "$SMALL_FILES" "$SMALL_KIB" <<'PY'
import os, sys
d, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    sub = os.path.join(d, "t%03d" % (i // 100))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "nb-%d-big-Data.db" % i), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
for i in $(seq 1 "$PARALLEL_FILES"); do head -c "$((PARALLEL_MIB << 20))" /dev/urandom >"$work/parallel/nb-$i-big-Data.db"; done

start_s3_server
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$CASSNAP_TEST_S3_ENDPOINT"
export RCLONE_CONFIG_MOTO_TYPE=s3 RCLONE_CONFIG_MOTO_PROVIDER=Other RCLONE_CONFIG_MOTO_ENDPOINT="$CASSNAP_TEST_S3_ENDPOINT" \
    RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=testing RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=testing \
    RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE=true RCLONE_CONFIG_MOTO_REGION=us-east-1
for b in bench-cassnap bench-rclone bench-rss; do curl -sf -X PUT -H 'Content-Length: 0' "$CASSNAP_TEST_S3_ENDPOINT/$b" >/dev/null; done

results="$work/results.jsonl"
log "cassnap store copy ($TRANSFERS transfers)"
$MEASURE cassnap-copy -- "$CASSNAP" store copy "$work/tree" s3://bench-cassnap/node1 --transfers "$TRANSFERS" | tee -a "$results"
log "rclone copy ($TRANSFERS transfers)"
$MEASURE rclone-copy -- "$RCLONE" copy "$work/tree" moto:bench-rclone/node1 --transfers "$TRANSFERS" --config /dev/null | tee -a "$results"
log "cassnap: $PARALLEL_FILES x $PARALLEL_MIB MiB in parallel (peak RSS)"
$MEASURE cassnap-parallel -- "$CASSNAP" store copy "$work/parallel" s3://bench-rss/node1 --transfers "$PARALLEL_FILES" | tee -a "$results"
log "rclone: the same parallel upload"
$MEASURE rclone-parallel -- "$RCLONE" copy "$work/parallel" moto:bench-rss/rclone --transfers "$PARALLEL_FILES" --config /dev/null | tee -a "$results"

python3 - "$results" "$BIG_FILES" "$BIG_MIB" "$SMALL_FILES" "$SMALL_KIB" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
c, r = rows["cassnap-copy"], rows["rclone-copy"]
print()
print("| run | wall s | cpu s | peak RSS MB | exit |")
print("|---|---|---|---|---|")
for k in ["cassnap-copy", "rclone-copy", "cassnap-parallel", "rclone-parallel"]:
    x = rows[k]
    print(f"| {k} | {x['wall_s']} | {x['cpu_s']} | {x['peak_rss_mb']} | {x['exit']} |")
print()
print(f"tree: {sys.argv[2]} x {sys.argv[3]} MiB + {sys.argv[4]} x {sys.argv[5]} KiB")
print(f"wall-time ratio cassnap/rclone: {c['wall_s'] / r['wall_s']:.2f}")
print(f"cpu ratio cassnap/rclone: {c['cpu_s'] / max(r['cpu_s'], 0.01):.2f}")
p, q = rows["cassnap-parallel"], rows["rclone-parallel"]
print(f"parallel upload peak RSS: cassnap {p['peak_rss_mb']} MB, rclone {q['peak_rss_mb']} MB")
PY
