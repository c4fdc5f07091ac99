#!/usr/bin/env bash
# The storm of issue 4 against moto with cassnap-agent, measured:
#   files missed, time from the storm's end until every file is in the bucket, agent CPU
#   seconds, idle RSS and peak RSS (VmHWM), and the anonymous part of both (RssAnon).
#
#   deploy/bench/agent-storm.sh                       # 4 ks x 50 tables x 20 sstables (32,000 links)
#   KEYSPACES=2 TABLES=10 SSTABLES=5 deploy/bench/agent-storm.sh
#   AGENT_BIN=.build-agent/debug/cassnap-agent FLUSHES=10 deploy/bench/agent-storm.sh
#   AGENT_WRAPPER="heaptrack -o /tmp/agent" deploy/bench/agent-storm.sh   # profile the heap
#   AGENT_BIN=dist/cassnap-agent deploy/bench/agent-storm.sh   # the static release binary
# Idle RSS is read IDLE_WAIT (20) seconds after the agent started, before the storm.
# Idle CPU after the storm: the agent's CPU over AFTER_WAIT (30) seconds once the bucket is
# complete (0 skips it), as a percentage of one core: what a node pays for its settled snapshots.
# AFTER_PERF=FILE records that stretch with perf.
# The agent's VmRSS is sampled every RSS_INTERVAL seconds (0.5) into $WORK/rss.log (seconds
# since the agent started, VmRSS kB, RssAnon kB); KEEP=1 keeps $WORK, with the agent's final smaps.
#
# The storm: `fake-nodetool snapshot -t storm` of every table (hard links into brand-new
# snapshots/storm directories) while two flushers write SSTables with incremental backups on.
# Every wait is bounded (WAIT seconds). Loopback only; everything is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source deploy/lib/common.sh

KEYSPACES=${KEYSPACES:-4}
TABLES=${TABLES:-50}
SSTABLES=${SSTABLES:-20}
FLUSHES=${FLUSHES:-10}
CONCURRENCY=${CONCURRENCY:-8}
WAIT=${WAIT:-900}
AGENT_BIN=${AGENT_BIN:-$ROOT/.build-agent-release/release/cassnap-agent}
NODETOOL_BIN=${NODETOOL_BIN:-$(dirname "$AGENT_BIN")/fake-nodetool}
[ -x "$AGENT_BIN" ] || die "build it first: swift build -c release --product cassnap-agent --scratch-path .build-agent-release"
[ -x "$NODETOOL_BIN" ] || die "build fake-nodetool first: swift build -c release --product fake-nodetool --scratch-path .build-agent-release"

WORK=$(mktemp -d /tmp/cassnap-agent-storm.XXXXXX)
export CASSNAP_RUN_DIR=$WORK
agent_pid=
cleanup() {
    [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null || true
    stop_servers
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/node" "$WORK/state"
}
trap cleanup EXIT

install_python_tools >/dev/null
PY=$CASSNAP_VENV/bin/python
start_s3_server
BUCKET=agent-storm
curl -sf -X PUT "$CASSNAP_TEST_S3_ENDPOINT/$BUCKET" >/dev/null

log "generating the node: $KEYSPACES ks x $TABLES tables x $SSTABLES sstables"
python3 "${PEERS:-$ROOT/../shared/peers}/gen_cassandra_data.py" --out "$WORK/node" --keyspaces "$KEYSPACES" \
    --tables "$TABLES" --sstables "$SSTABLES" >/dev/null
DATA=$WORK/node/data
HOST_ID=6d1c3b0e-8f5a-4c2d-9e7b-1a2b3c4d5e6f
touch "$WORK/node/.fake-nodetool-incremental-backups"
echo "$HOST_ID" >"$WORK/node/.fake-nodetool-host-id"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
${AGENT_WRAPPER:-} "$AGENT_BIN" run --data-dir "$DATA" --state-dir "$WORK/state" --host-id "$HOST_ID" --cluster bench \
    --store "s3://$BUCKET/cassnap?endpoint=$CASSNAP_TEST_S3_ENDPOINT&path-style=true" \
    --concurrency "$CONCURRENCY" --watch snapshots,backups >"$WORK/agent.log" 2>&1 &
agent_pid=$!
wrapper_pid=
if [ -n "${AGENT_WRAPPER:-}" ]; then  # measure the agent, not the wrapper
    wrapper_pid=$agent_pid
    for _ in $(seq 1 50); do
        agent_pid=$(pgrep -n -f "^$AGENT_BIN run" || true)
        [ -n "$agent_pid" ] && break
        sleep 0.1
    done
    [ -n "$agent_pid" ] || die "the agent did not start under $AGENT_WRAPPER"
fi
( start=$(date +%s%N)
  while [ -r /proc/$agent_pid/status ]; do
      rss=$(awk '/^(VmRSS|RssAnon):/ {printf "%s ", $2}' /proc/$agent_pid/status 2>/dev/null) || break
      now=$(date +%s%N)
      echo "$(( (now - start) / 1000000000 )).$(( (now - start) / 100000000 % 10 )) $rss"
      sleep "${RSS_INTERVAL:-0.5}"
  done ) >"$WORK/rss.log" 2>/dev/null &
# Idle: after the start-up listing of the node has been recorded and the agent has settled.
sleep "${IDLE_WAIT:-20}"
idle_rss=$(awk '/VmRSS/ {print $2}' /proc/$agent_pid/status)
idle_anon=$(awk '/RssAnon/ {print $2}' /proc/$agent_pid/status)

log "storm: snapshot -t storm + 2 flushers x $FLUSHES flushes"
export FAKE_NODETOOL_DATA_DIR=$DATA
storm_start=$(date +%s.%N)
"$NODETOOL_BIN" snapshot -t storm >/dev/null &
snap=$!
flushers=()
for ks in 0 $((KEYSPACES > 1 ? 1 : 0)); do
    ( for _ in $(seq 1 "$FLUSHES"); do "$NODETOOL_BIN" flush "ks$ks" t0 t1 --size 1048576 --write-delay-ms 5 >/dev/null; done ) &
    flushers+=($!)
done
wait "$snap" || die "snapshot failed"
for pid in "${flushers[@]}"; do wait "$pid" || log "a flusher failed (see above)"; done
storm_end=$(date +%s.%N)
log "storm took $(python3 -c "print(round($storm_end-$storm_start,2))") s; waiting for the bucket"

# Expected: every snapshots/storm and backups file on disk, at its pool (or snapshot) key.
"$PY" - "$DATA" "$CASSNAP_TEST_S3_ENDPOINT" "$BUCKET" "$HOST_ID" "$storm_end" "$WAIT" "$agent_pid" \
    "$WORK/state/agent.sqlite" >"$WORK/result.json" <<'PY'
import json, os, sqlite3, sys, time
import boto3
data, endpoint, bucket, host, storm_end, wait, pid, db = sys.argv[1:]
storm_end, wait = float(storm_end), float(wait)
root = f"cassnap/bench/nodes/{host}/"
expected = set()
for dirpath, _, files in os.walk(data):
    rel = os.path.relpath(dirpath, data).split(os.sep)
    if len(rel) < 3: continue
    ks, table = rel[0], rel[1]
    if len(rel) == 4 and rel[2] == "snapshots" and rel[3] == "storm":
        for f in files:
            if f in ("manifest.json", "schema.cql"):
                expected.add(root + f"snapshots/storm/{ks}/{table}/{f}")
            elif "_txn_" not in f and not f.startswith("tmp"):
                expected.add(root + f"data/{ks}/{table}/{f}")
    elif len(rel) == 3 and rel[2] == "backups":
        expected.update(root + f"data/{ks}/{table}/{f}" for f in files)
def counts():
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try: return dict(c.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall())
    finally: c.close()
deadline = time.time() + wait
done_at = None
while time.time() < deadline:
    try: c = counts()
    except sqlite3.Error: c = {}
    if c.get("pending", 0) == 0 and c.get("uploaded", 0) >= len(expected):
        done_at = time.time(); break
    time.sleep(0.5)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
keys, last = {}, 0.0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
    for o in page.get("Contents", []):
        keys[o["Key"]] = o
        last = max(last, o["LastModified"].timestamp())
missing = sorted(expected - set(keys))
def rusage(pid):
    with open(f"/proc/{pid}/stat") as f: parts = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / tick
    with open(f"/proc/{pid}/status") as f:
        st = dict(l.split(":", 1) for l in f)
    return cpu, int(st["VmHWM"].split()[0]), int(st["VmRSS"].split()[0])
cpu, hwm, rss = rusage(int(pid))
print(json.dumps({
    "expected": len(expected), "landed": len(expected) - len(missing), "missed": len(missing),
    "missing_sample": missing[:5], "extra_objects": len(set(keys) - expected),
    "state_counts": counts(),
    "seconds_storm_end_to_complete_poll": round(done_at - storm_end, 1) if done_at else None,
    "seconds_storm_end_to_last_object": round(last - storm_end, 1) if last else None,
    "agent_cpu_seconds": round(cpu, 1), "agent_peak_rss_mb": round(hwm / 1024, 1),
    "agent_rss_after_mb": round(rss / 1024, 1),
}, indent=1))
PY
python3 - "$WORK/result.json" "$idle_rss" "$idle_anon" "$WORK/rss.log" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["agent_idle_rss_mb"] = round(int(sys.argv[2]) / 1024, 1)
# RssAnon: the agent's own memory (heap, stacks, relocated data), without the file-backed
# pages of its binary and shared libraries, which the kernel maps around each fault.
r["agent_idle_rss_anon_mb"] = round(int(sys.argv[3]) / 1024, 1)
anon = [int(l.split()[2]) for l in open(sys.argv[4]) if len(l.split()) == 3]
r["agent_peak_rss_anon_mb"] = round(max(anon, default=0) / 1024, 1)
json.dump(r, open(sys.argv[1], "w"), indent=1); print(json.dumps(r, indent=1))
PY
[ "${KEEP:-0}" = 1 ] && cp "/proc/$agent_pid/smaps" "$WORK/smaps.after" 2>/dev/null || true
if [ "${AFTER_WAIT:-30}" != 0 ]; then
    ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
    before=$(ticks)
    if [ -n "${AFTER_PERF:-}" ]; then  # profile the idle agent: AFTER_PERF=FILE
        perf record -g --call-graph dwarf,16384 -F 499 -o "$AFTER_PERF" -p "$agent_pid" -- sleep "${AFTER_WAIT:-30}" \
            >/dev/null 2>&1
    else
        sleep "${AFTER_WAIT:-30}"
    fi
    after=$(ticks)
    log "idle CPU after the storm: $(python3 -c "print(round(100 * ($after - $before) / $(getconf CLK_TCK) / ${AFTER_WAIT:-30}, 2))")% of a core over ${AFTER_WAIT:-30} s"
fi
kill -TERM "$agent_pid"
for _ in $(seq 1 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.2; done
[ -z "$wrapper_pid" ] || wait "$wrapper_pid" || true
agent_pid=
log "results: $WORK/result.json (agent log: $WORK/agent.log)"
