#!/usr/bin/env bash
# cassnap-agent vs tablesnap (and rclone) IN THE SAME RUN, with the read-only peer harness in
# ../shared/peers next to the repository (read its README.md): same storm, same moto, same checker. Builds nothing.
#
#   deploy/bench/peers.sh                  # MODE=snaponly: tablesnap -r -a, rclone, cassnap
#                                          #   (--watch snapshots,backups) + cassnap --once bulk
#   MODE=flush deploy/bench/peers.sh       # storm + 2 flushers: tablesnap vs cassnap
#                                          #   (--watch snapshots,backups,live) + bulk
#   AGENT_BIN=/path/cassnap-agent RUN_ID=x PHASES=tablesnap,agent deploy/bench/peers.sh
# Storm/bulk knobs (STORM_*, BULK_*, WATCH_WAIT, ...) pass through to run_peers.sh.
#
# What it does: copies the harness to $SCRATCH/harness (never runs inside the repo), patches
# that copy of check_bucket.py (placeholders {ks} {tabledir} {tag} and a per-kind
# 'KIND=FMT;...;FMT' --key-format, because cassnap pools SSTables per node and drops
# snapshots/<tag>/ from their keys, see docs/FORMAT.md), and runs run_peers.sh with cassnap as
# the `agent` contestant. The agent runs under a /proc sampler (CPU s, VmRSS/VmHWM every
# 0.5 s), and tablesnap is sampled the same way from outside, since the harness reports neither.
# Caveat (MODE=flush): with `live` the agent's first directory listing ships the 32,000 live
# SSTables from its start, 5 s before the storm; their snapshot links then cost no upload.
# Output: $SCRATCH/harness/results/$RUN_ID/summary.md, plus a CPU/RSS table printed at the end.
# Data and logs: /tmp/peers/runs/$RUN_ID. Loopback only (moto on 127.0.0.1:19000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# The harness lives next to the repository (../shared/peers); PEERS overrides it.
PEERS=${PEERS:-$ROOT/../shared/peers}
[ -f "$PEERS/run_peers.sh" ] || { echo "no peer harness at $PEERS (set PEERS=/path/to/shared/peers)" >&2; exit 1; }
MODE=${MODE:-snaponly}
export AGENT_BIN=${AGENT_BIN:-$ROOT/.build-agent-release/release/cassnap-agent}
export RUN_ID=${RUN_ID:-cassnap-$MODE-$(date -u +%Y%m%dT%H%M%SZ)}
SCRATCH=${SCRATCH:-$(mktemp -d /tmp/cassnap-peers.XXXXXX)}
[ -x "$AGENT_BIN" ] || { echo "no agent at $AGENT_BIN (swift build -c release --product cassnap-agent --scratch-path .build-agent-release)" >&2; exit 1; }
[ -x /tmp/peers/venv/bin/python ] || bash "$PEERS/setup_venv.sh"

H=$SCRATCH/harness
mkdir -p "$H" && cp "$PEERS"/* "$H"/ && chmod u+w "$H"/*
/tmp/peers/venv/bin/python - "$H/check_bucket.py" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
def sub(old, new):
    global s
    assert s.count(old) == 1, "check_bucket.py changed upstream: " + old[:60]
    s = s.replace(old, new)
sub("""  rclone    : '{prefix}{rel}'
""", """  rclone    : '{prefix}{rel}'
[cassnap patch] Also {ks} {tabledir} {tag} (from rel = <ks>/<table-dir>/[snapshots/<tag>/]...;
{tag} is '' outside snapshots/<tag>/), and --key-format may be 'KIND=FMT;...;FMT': the
first entry whose KIND matches the file's path kind is used, else the last (plain) FMT.
Path kinds: snapshot-meta (snapshots/<tag>/manifest.json|schema.cql), snapshot, backup, live.
  cassnap   : 'snapshot-meta=P/snapshots/{tag}/{ks}/{tabledir}/{basename};P/data/{ks}/{tabledir}/{basename}'
""")
sub("""        key = a.key_format.format(abspath=ab, rel=f["rel"], name=a.name, prefix=a.prefix,
                                  basename=os.path.basename(f["rel"]))
""", """        key = key_format_for(a.key_format, f["rel"]).format(
            abspath=ab, rel=f["rel"], name=a.name, prefix=a.prefix,
            basename=os.path.basename(f["rel"]), **path_fields(f["rel"]))
""")
sub("""def main():
""", '''PATH_KINDS = ("snapshot-meta", "snapshot", "backup", "live")


def path_fields(rel):
    """[cassnap patch] {ks} {tabledir} {tag} and the path kind of a data-dir-relative path."""
    parts = rel.split(os.sep)
    ks, tabledir = (parts + ["", ""])[:2]
    tag, kind = "", "live"
    if len(parts) >= 5 and parts[2] == "snapshots":
        tag = parts[3]
        kind = "snapshot-meta" if len(parts) == 5 and parts[4] in ("manifest.json", "schema.cql") else "snapshot"
    elif len(parts) >= 4 and parts[2] == "backups":
        kind = "backup"
    return {"ks": ks, "tabledir": tabledir, "tag": tag, "_kind": kind}


def key_format_for(spec, rel):
    """[cassnap patch] 'KIND=FMT;...;FMT' -> the FMT for rel's path kind (a plain format is
    returned unchanged, so existing --key-format values mean what they meant)."""
    entries = spec.split(";")
    if len(entries) == 1 or not any(e.split("=", 1)[0] in PATH_KINDS for e in entries if "=" in e):
        return spec
    kind, default = path_fields(rel)["_kind"], None
    for e in entries:
        k, eq, fmt = e.partition("=")
        if eq and k in PATH_KINDS:
            if k == kind:
                return fmt
        else:
            default = e
    if default is None:
        raise SystemExit("--key-format: no entry for path kind %r and no plain default" % kind)
    return default


def main():
''')
open(p, "w").write(s)
PY

# sampler.sh OUT (PID | -f PIDFILE) [CMD...]: with CMD, runs it and forwards TERM/INT to it.
cat >"$SCRATCH/sampler.sh" <<'EOF'
#!/usr/bin/env bash
out=$1; shift
if [ "$1" = -f ]; then
  for _ in $(seq 1 1800); do [ -s "$2" ] && break; sleep 0.5; done
  [ -s "$2" ] || exit 1; pid=$(cat "$2")
else "$@" & pid=$!; trap 'kill -TERM "$pid" 2>/dev/null' TERM INT; fi
tick=$(getconf CLK_TCK); t0=$(date +%s.%N); : >"$out"
while [ -r "/proc/$pid/status" ]; do   # elapsed_s cpu_s(utime+stime) VmRSS_kB VmHWM_kB
  s=$(awk -v t="$tick" '{sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / t}' "/proc/$pid/stat" 2>/dev/null) || break
  m=$(awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {print r, h}' "/proc/$pid/status" 2>/dev/null) || break
  [ -n "$s" ] && [ -n "$m" ] && echo "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') $s $m" >>"$out"
  sleep 0.5
done
[ "$1" = -f ] || wait "$pid"
EOF
chmod +x "$SCRATCH/sampler.sh"

export MEASURE=$SCRATCH/sampler.sh HOST_ID=6d1c3b0e-8f5a-4c2d-9e7b-1a2b3c4d5e6f
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# Never ask a real cloud for credentials (deploy/lib/common.sh says why).
export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 GCE_METADATA_HOST=127.0.0.1:1
R="cassnap/bench/nodes/$HOST_ID"
STORE='"s3://$BUCKET/cassnap?endpoint=$S3_ENDPOINT&path-style=true"'
export AGENT_CMD='exec "$MEASURE" "$DATA_DIR/../../agent-proc.log" "$AGENT_BIN" run --data-dir "$DATA_DIR" --state-dir "$DATA_DIR/../../agent-state" --host-id "$HOST_ID" --cluster bench --store '"$STORE"' --concurrency 4 --watch "$AGENT_WATCH"'
export AGENT_BULK_CMD='exec "$MEASURE" "$SRC_DIR/../../agentbulk-proc.log" "$AGENT_BIN" run --once --data-dir "$SRC_DIR" --state-dir "$SRC_DIR/../../agentbulk-state" --host-id "$HOST_ID" --cluster bench --store '"$STORE"' --concurrency 4 --watch snapshots'
export AGENT_KEY_FORMAT="snapshot-meta=$R/snapshots/{tag}/{ks}/{tabledir}/{basename};$R/data/{ks}/{tabledir}/{basename}"
export AGENT_BULK_KEY_FORMAT=$AGENT_KEY_FORMAT
case $MODE in
  snaponly) export PHASES=${PHASES:-tablesnap,rclone,agent} STORM_FLUSHERS=0 \
              TABLESNAP_VARIANTS="snaponly:-r -a:0" AGENT_WATCH=snapshots,backups ;;
  flush) export PHASES=${PHASES:-tablesnap,agent} STORM_FLUSHERS=${STORM_FLUSHERS:-2} \
              TABLESNAP_VARIANTS="flush:-r -a:${STORM_FLUSHERS:-2}" AGENT_WATCH=snapshots,backups,live ;;
  *) echo "MODE is snaponly or flush" >&2; exit 1 ;;
esac

WORK=/tmp/peers/runs/$RUN_ID
mkdir -p "$WORK"
timeout 3600 "$SCRATCH/sampler.sh" "$WORK/tablesnap-proc.log" -f "$WORK/tablesnap-$MODE.pid" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT
(cd "$SCRATCH" && timeout 5400 bash "$H/run_peers.sh")
echo
echo "| process | CPU s (utime+stime) | peak RSS MB (max of VmHWM/VmRSS samples) | sampled for s |"
echo "|---|---|---|---|"
for p in tablesnap agent agentbulk; do
  f=$WORK/$p-proc.log
  [ -s "$f" ] && awk -v p="$p" '{if ($3 > m) m = $3; if ($4 > m) m = $4; c = $2; t = $1}
    END {printf "| %s | %s | %.1f | %s |\n", p, c, m / 1024, t}' "$f"
done
echo "summary: $H/results/$RUN_ID/summary.md   data+logs: $WORK"
