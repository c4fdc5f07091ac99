#!/usr/bin/env bash
# Fuzzes the coordinator's HTTP API from coordinator/openapi.yaml with schemathesis (PyPI):
# every documented operation, the admin ones with the admin token and the agent ones with the
# agent token; any 5xx answer fails the run. Part of `make test` (deploy/test.sh).
#
#   deploy/fuzz-api.sh                       # the debug build's coordinator
#   FUZZ_EXAMPLES=500 FUZZ_SEED=1 deploy/fuzz-api.sh
#
# The seed is fixed by default so that CI is repeatable; set FUZZ_SEED=random to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/common.sh

BIN=${BIN:-.build/debug/cassnap-coordinator}
[ -x "$BIN" ] || die "$BIN is missing: swift build --product cassnap-coordinator"
ST="$CASSNAP_FUZZ_VENV/bin/st"
[ -x "$ST" ] || die "$ST is missing: deploy/test.sh installs schemathesis into $CASSNAP_FUZZ_VENV"
examples=${FUZZ_EXAMPLES:-50}
seed=${FUZZ_SEED:-20261207}
work=$(mktemp -d)
port=$(free_port)
admin=fuzz-admin-token-0123456789
agent=fuzz-agent-token-0123456789
mkdir -p "$work/bucket"
cat >"$work/coordinator.yaml" <<YAML
listen: 127.0.0.1:$port
database: $work/catalog.sqlite
store: file://$work/bucket
agent_token: $agent
admin_token: $admin
YAML
"$BIN" run --config "$work/coordinator.yaml" >"$work/coordinator.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/v1/nodes" && break
    sleep 0.5
done

status=0
for role in admin agent; do
    token=$admin
    [ "$role" = agent ] && token=$agent
    args=(run coordinator/openapi.yaml -u "http://127.0.0.1:$port" -H "Authorization: Bearer $token"
        -c not_a_server_error -n "$examples" --include-tag "$role" --request-timeout 60 --no-color)
    [ "$seed" = random ] || args+=(--seed "$seed")
    log "schemathesis: $role operations ($examples examples each)"
    "$ST" "${args[@]}" >"$work/$role.txt" 2>&1 || status=1
    sed -n '/SUMMARY/,$p' "$work/$role.txt"
    if [ "$status" -ne 0 ]; then
        cat "$work/$role.txt"
        break
    fi
done
kill -0 "$pid" 2>/dev/null || { echo "the coordinator died during the fuzz:"; tail -50 "$work/coordinator.log"; status=1; }
if grep -q "Fatal error" "$work/coordinator.log"; then
    grep -B2 -A5 "Fatal error" "$work/coordinator.log"
    status=1
fi
exit "$status"
