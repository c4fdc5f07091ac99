#!/usr/bin/env bash
# Restore benchmark (issue 10): `cassnap restore` of one node's snapshot against `rclone copy`
# of the same objects from the same S3 server, in one run, at equal parallelism (cassnap
# --concurrency N = rclone --transfers N), against moto and `rclone serve s3`; then cassnap's
# peak RSS while restoring 8 large files at once, at two file sizes. Not a test: it prints figures.
#
# The snapshot is made by restore-fixture.py (random files, real sizes and SHA-256s in a node
# manifest and cluster snapshot record as docs/FORMAT.md describes), uploaded with
# `cassnap store copy` and checked with `cassnap verify --deep` before anything is timed.
# Every timed restore is checked afterwards (file count and bytes). cassnap fsyncs each file and
# its directory and checks SHA-256; rclone does neither fsync, so the `sync` that flushes what
# rclone left in the page cache is timed separately and reported beside it.
#
#   ./deploy/bench/restore.sh                 # 3 x 1 GiB + 3,000 x 16 KiB; 32,000 x 16 KiB; RSS 8 x 256 MiB / 8 x 1 GiB
#   BIG_MIB=64 SMALL_FILES=300 NODE_FILES=2000 RSS_MIBS="16 64" LEVELS=4 ./deploy/bench/restore.sh   # quick
#   PHASES="small" SERVERS=moto LEVELS="4 8 16 32" ./deploy/bench/restore.sh   # one phase
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib/common.sh

BIG_FILES=${BIG_FILES:-3}
BIG_MIB=${BIG_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-3000}
SMALL_KIB=${SMALL_KIB:-16}
NODE_FILES=${NODE_FILES:-32000}
NODE_KIB=${NODE_KIB:-16}
RSS_FILES=${RSS_FILES:-8}
RSS_MIBS=${RSS_MIBS:-256 1024}
RSS_SERVER=${RSS_SERVER:-rclone}    # rclone (disk-backed) or moto (in memory)
LEVELS=${LEVELS:-4 8 16}          # cassnap --concurrency and rclone --transfers, each run at each
SERVERS=${SERVERS:-moto rclone}   # moto_server, rclone serve s3
PHASES=${PHASES:-mixed small rss}
UPLOAD_TRANSFERS=${UPLOAD_TRANSFERS:-8}

bench_setup
FIXTURE="python3 $PWD/deploy/bench/restore-fixture.py"
HOST=6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7
CLUSTER=bench

work=$(mktemp -d /tmp/cassnap-bench.XXXXXX)
results="$work/results.jsonl"
: >"$results"
# RESULTS_OUT=file keeps the raw JSON lines (one per timed command) after the run.
trap '[ -z "${RESULTS_OUT:-}" ] || cp "$results" "$RESULTS_OUT"; stop_servers; rm -rf "$work" "$CASSNAP_RUN_DIR"' EXIT

# Points cassnap (AWS_*) and rclone (remote "srv:") at one server.
use_server() {
    export AWS_REGION=us-east-1 RCLONE_CONFIG_SRV_TYPE=s3 RCLONE_CONFIG_SRV_PROVIDER=Other \
        RCLONE_CONFIG_SRV_FORCE_PATH_STYLE=true RCLONE_CONFIG_SRV_REGION=us-east-1
    case $1 in
        moto)
            export AWS_ENDPOINT_URL=$CASSNAP_TEST_S3_ENDPOINT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing ;;
        rclone)
            export AWS_ENDPOINT_URL=$CASSNAP_TEST_RCLONE_S3_ENDPOINT AWS_ACCESS_KEY_ID=$CASSNAP_TEST_RCLONE_ACCESS_KEY \
                AWS_SECRET_ACCESS_KEY=$CASSNAP_TEST_RCLONE_SECRET_KEY ;;
        *) die "unknown server $1" ;;
    esac
    export RCLONE_CONFIG_SRV_ENDPOINT=$AWS_ENDPOINT_URL RCLONE_CONFIG_SRV_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
        RCLONE_CONFIG_SRV_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
}

start_phase_servers() {
    for s in $SERVERS; do
        case $s in moto) start_s3_server ;; rclone) start_rclone_s3_server ;; esac
    done
}

end_phase() {
    stop_servers
    rm -rf "$CASSNAP_RUN_DIR/rclone-s3" "$work/fixture" "$work/restore"
}

# Uploads the fixture in $work/fixture to bucket $2 on server $1, then checks it deeply.
load_fixture() {
    local server=$1 bucket=$2 deep=${3:-deep}
    use_server "$server"
    if [ "$server" = rclone ]; then mkdir -p "$CASSNAP_RUN_DIR/rclone-s3/$bucket"
    else curl -sf -X PUT -H 'Content-Length: 0' "$AWS_ENDPOINT_URL/$bucket" >/dev/null; fi
    log "$server: uploading the fixture to s3://$bucket"
    "$CASSNAP" store copy "$work/fixture/data" "s3://$bucket" --prefix "$CLUSTER/nodes/$HOST/data" \
        --transfers "$UPLOAD_TRANSFERS" >/dev/null
    "$CASSNAP" store put "s3://$bucket" "$CLUSTER/nodes/$HOST/snapshots/$TAG/manifest.json" \
        "$work/fixture/manifest.json" >/dev/null
    "$CASSNAP" store put "s3://$bucket" "$CLUSTER/snapshots/$TAG.json" "$work/fixture/record.json" >/dev/null
    if [ "$deep" = deep ]; then
        "$CASSNAP" verify "$TAG" --deep --concurrency 8 --store "s3://$bucket" --cluster "$CLUSTER" >/dev/null \
            || die "$server: verify --deep failed for the fixture"
    else
        "$CASSNAP" verify "$TAG" --store "s3://$bucket" --cluster "$CLUSTER" >/dev/null \
            || die "$server: verify failed for the fixture"
    fi
}

# The restored tree must hold exactly the fixture's files and bytes.
check_restore() {
    local label=$1 want_files=$2 want_bytes=$3 got
    got=$(find "$work/restore" -type f -printf '%s\n' | awk '{n++; b+=$1} END {printf "%d %.0f", n, b}')
    [ "$got" = "$want_files $want_bytes" ] || die "$label restored '$got' (files bytes), want '$want_files $want_bytes'"
}

# One timed restore by each tool at each level, alternating which goes first.
run_restores() {
    local phase=$1 server=$2 bucket=$3 files=$4 bytes=$5 n first=cassnap
    use_server "$server"
    for n in $LEVELS; do
        for tool in $first $([ $first = cassnap ] && echo rclone || echo cassnap); do
            rm -rf "$work/restore"; mkdir -p "$work/restore"; sync
            local label="$phase/$server/$tool/$n"
            log "$label"
            if [ "$tool" = cassnap ]; then
                $MEASURE "$label" -- "$CASSNAP" restore "$TAG" --node "$HOST" --to "$work/restore" \
                    --store "s3://$bucket" --cluster "$CLUSTER" --concurrency "$n" >>"$results"
            else
                $MEASURE "$label" -- "$RCLONE" copy "srv:$bucket/$CLUSTER/nodes/$HOST/data" "$work/restore/$HOST" \
                    --transfers "$n" --config /dev/null >>"$results"
            fi
            $MEASURE "$label/sync" -- sync >>"$results"
            check_restore "$label" "$files" "$bytes"
        done
        first=$([ $first = cassnap ] && echo rclone || echo cassnap)
    done
    rm -rf "$work/restore"
}

restore_phase() {
    local phase=$1; shift
    log "phase $phase: generating the fixture ($*)"
    TAG="bench-$phase"
    local counts files bytes
    counts=$($FIXTURE "$work/fixture" --cluster "$CLUSTER" --host "$HOST" --tag "$TAG" "$@")
    files=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["files"])' "$counts")
    bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$counts")
    start_phase_servers
    for s in $SERVERS; do load_fixture "$s" "bench-$phase"; done
    rm -rf "$work/fixture"
    for s in $SERVERS; do run_restores "$phase" "$s" "bench-$phase" "$files" "$bytes"; done
    end_phase
}

# Peak RSS: RSS_FILES files restored all at once, at each size in RSS_MIBS. From `rclone serve
# s3` by default: it stores on disk, while moto keeps multipart uploads in memory (about twice
# the bytes: 6 GB of RSS for a 3 GiB fixture), so 8 GiB in moto would risk the OOM killer.
rss_phase() {
    local mib total avail server=$RSS_SERVER
    for mib in $RSS_MIBS; do
        total=$((RSS_FILES * mib))
        avail=$(df -Pm "$work" | awk 'NR==2 {print $4}')
        # Fixture (deleted after upload) + the server's copy + the restore, with room to spare.
        [ "$avail" -gt $((total * 3 + 2048)) ] || die "rss: $total MiB needs $((total * 3 + 2048)) MiB free in $work, $avail MiB are"
        log "phase rss: $RSS_FILES x $mib MiB from $server (df: $avail MiB free)"
        TAG="bench-rss-$mib"
        $FIXTURE "$work/fixture" --cluster "$CLUSTER" --host "$HOST" --tag "$TAG" --big "$RSS_FILES" --big-mib "$mib" >/dev/null
        SERVERS=$server start_phase_servers
        load_fixture "$server" "bench-rss" shallow
        rm -rf "$work/fixture"
        use_server "$server"
        rm -rf "$work/restore"; mkdir -p "$work/restore"; sync
        log "rss/$mib: cassnap restore --concurrency $RSS_FILES"
        $MEASURE "rss/$mib/cassnap/$RSS_FILES" -- "$CASSNAP" restore "$TAG" --node "$HOST" --to "$work/restore" \
            --store s3://bench-rss --cluster "$CLUSTER" --concurrency "$RSS_FILES" >>"$results"
        check_restore "rss/$mib/cassnap" "$RSS_FILES" $((RSS_FILES * mib << 20))
        rm -rf "$work/restore"; mkdir -p "$work/restore"; sync
        log "rss/$mib: rclone copy --transfers $RSS_FILES"
        $MEASURE "rss/$mib/rclone/$RSS_FILES" -- "$RCLONE" copy "srv:bench-rss/$CLUSTER/nodes/$HOST/data" \
            "$work/restore/$HOST" --transfers "$RSS_FILES" --config /dev/null >>"$results"
        check_restore "rss/$mib/rclone" "$RSS_FILES" $((RSS_FILES * mib << 20))
        SERVERS=$server end_phase
    done
}

for phase in $PHASES; do
    case $phase in
        mixed) restore_phase mixed --big "$BIG_FILES" --big-mib "$BIG_MIB" --small "$SMALL_FILES" --small-kib "$SMALL_KIB" ;;
        small) restore_phase small --small "$NODE_FILES" --small-kib "$NODE_KIB" --tables 40 ;;
        rss) rss_phase ;;
        *) die "unknown phase $phase (known: mixed small rss)" ;;
    esac
done

python3 - "$results" "$RSS_SERVER" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
bad = [k for k, r in rows.items() if r["exit"] != 0]
restores = sorted({tuple(k.split("/")[:2]) + (int(k.split("/")[3]),) for k in rows
                   if not k.startswith("rss/") and not k.endswith("/sync")},
                  key=lambda t: (t[0], t[1], t[2]))
print()
print("Restore: wall seconds, one run each (speedup = rclone s / cassnap s; >1 means cassnap is faster)")
print()
print("| case | server | N | cassnap s | cassnap cpu s | rclone s | rclone cpu s | rclone + sync s | speedup | speedup vs rclone+sync |")
print("|---|---|---|---|---|---|---|---|---|---|")
for phase, server, n in restores:
    c, r = rows[f"{phase}/{server}/cassnap/{n}"], rows[f"{phase}/{server}/rclone/{n}"]
    cs, rs = rows[f"{phase}/{server}/cassnap/{n}/sync"], rows[f"{phase}/{server}/rclone/{n}/sync"]
    ct, rt = c["wall_s"] + cs["wall_s"], r["wall_s"] + rs["wall_s"]
    print(f"| {phase} | {server} | {n} | {c['wall_s']} | {c['cpu_s']} | {r['wall_s']} | {r['cpu_s']} | {rt:.2f} "
          f"| {r['wall_s'] / c['wall_s']:.2f} | {rt / ct:.2f} |")
rss = sorted({(int(k.split("/")[1]), int(k.split("/")[3])) for k in rows if k.startswith("rss/")})
if rss:
    print()
    print(f"Peak RSS, all files at once (from {sys.argv[2]})")
    print()
    print("| files x MiB | cassnap wall s | cassnap peak RSS MB | rclone wall s | rclone peak RSS MB |")
    print("|---|---|---|---|---|")
    for mib, n in rss:
        c, r = rows[f"rss/{mib}/cassnap/{n}"], rows[f"rss/{mib}/rclone/{n}"]
        print(f"| {n} x {mib} | {c['wall_s']} | {c['peak_rss_mb']} | {r['wall_s']} | {r['peak_rss_mb']} |")
if bad:
    print("\nFAILED runs: " + ", ".join(bad))
    sys.exit(1)
PY
