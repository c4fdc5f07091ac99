#!/usr/bin/env python3
"""Hostile-client benchmark of one `cassnap-coordinator` binary (issue 9, items 5, 10, 12).

Starts the coordinator on loopback with a file:// store, registers two nodes, then measures:
  bodies     peak RSS (VmHWM) after 8 parallel 60 MB bodies to /files, and the answers;
  manifest   peak RSS after a node reports a 400 MB manifest.json, and the node's status;
  idle       of 500 connections (half idle, half sending a request head a byte every 5 s),
             how many are still open after IDLE_WAIT seconds (60);
  stall      node A reports a 160,000-item /files backlog (one request; if refused, in the
             largest batches the server accepts) while node B heartbeats every 50 ms:
             heartbeat latency p50 / p99 / max, and how long the backlog took.
Each phase's peak RSS is its own (VmHWM is reset through /proc/PID/clear_refs before it).
Prints one JSON object. Every loop is bounded in count and time; only 127.0.0.1 is used.

Usage: coordinator-hostile.py COORDINATOR_BINARY [LABEL]
"""
import json, os, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request, uuid

BIN = sys.argv[1]
LABEL = sys.argv[2] if len(sys.argv) > 2 else os.path.basename(BIN)
IDLE_WAIT = float(os.environ.get("IDLE_WAIT", "60"))
AGENT, ADMIN = "bench-agent-token-0123456789", "bench-admin-token-0123456789"
CLUSTER = "Test Cluster"
HOSTS = ["6f1c2a4e-0000-4000-8000-00000000000%d" % i for i in (1, 2)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def reset_peak(pid):
    """Resets VmHWM to the current RSS (Linux 4.0+), so each phase's peak is its own."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
    except OSError:
        pass


def request(port, method, path, body=None, token=AGENT, timeout=120):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:  # a reset counts as an answer too
        return type(e).__name__, b""


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def file_items(host, start, count):
    items = []
    for i in range(start, start + count):
        name = "nb-%d-big-Data.db" % (i + 1)
        items.append(
            '{"keyspace":"shop","table":"orders","fileName":"%s","size":1,"sha256":"%s",'
            '"objectKey":"%s/nodes/%s/data/shop/orders/%s","uploadedAt":"%s"}'
            % (name, "a" * 64, CLUSTER, host, name, now_iso()))
    return items


def batch(report_id, items):
    return ('{"reportID":"%s","items":[%s]}' % (report_id, ",".join(items))).encode()


def main():
    work = tempfile.mkdtemp(prefix="cassnap-hostile-")
    store = os.path.join(work, "store")
    os.makedirs(store)
    port = free_port()
    env = dict(os.environ, CASSNAP_AGENT_TOKEN=AGENT, CASSNAP_ADMIN_TOKEN=ADMIN, AWS_EC2_METADATA_DISABLED="true")
    proc = subprocess.Popen(
        [BIN, "run", "--listen", "127.0.0.1:%d" % port, "--db", os.path.join(work, "catalog.sqlite"),
         "--store", "file://" + store, "--cluster", CLUSTER],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "coordinator.log"), "w"))
    out = {"label": LABEL}
    try:
        for _ in range(100):
            if request(port, "GET", "/v1/nodes", token=ADMIN)[0] == 200:
                break
            time.sleep(0.1)
        for i, host in enumerate(HOSTS):
            reg = {"hostID": host, "hostname": "node%d" % i, "cluster": CLUSTER, "datacenter": "dc1", "rack": "r1",
                   "tokens": ["1"], "cassandraVersion": "4.1.3", "dataDirectories": ["/d"], "agentVersion": "bench"}
            request(port, "POST", "/v1/agents/register", json.dumps(reg).encode())
            hb = {"agentTime": now_iso(), "queuedFiles": 0, "uploadedFiles": 0, "uploadedBytes": 0}
            request(port, "POST", "/v1/agents/%s/heartbeat" % host, json.dumps(hb).encode())
        out["rss_start_mb"] = rss(proc.pid, "VmRSS")

        # bodies: 8 × 60 MB in parallel.
        reset_peak(proc.pid)
        big = batch("big", file_items(HOSTS[0], 0, 1))[:-2] + b"," + b" " * (60 << 20) + b"]}"
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(
            request(port, "POST", "/v1/agents/%s/files" % HOSTS[0], big)[0])) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        out["bodies"] = {"answers": sorted(map(str, answers)), "peak_rss_mb": rss(proc.pid, "VmHWM")}

        # manifest: 400 MB in the bucket.
        reset_peak(proc.pid)
        out["rss_before_manifest_mb"] = rss(proc.pid, "VmRSS")
        created = json.loads(request(port, "POST", "/v1/snapshots", b'{"delaySeconds": 1, "tag": "huge"}', ADMIN)[1])
        sid = created["summary"]["id"]
        key = "%s/nodes/%s/snapshots/huge/manifest.json" % (CLUSTER, HOSTS[0])
        path = os.path.join(store, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"{" + b" " * (400 << 20) + b"}")
        report = {"reportID": "m-huge", "items": [{"snapshotID": sid, "tag": "huge", "manifestKey": key,
                                                   "files": 0, "bytes": 0}]}
        status = request(port, "POST", "/v1/agents/%s/manifests" % HOSTS[0], json.dumps(report).encode())[0]
        detail = json.loads(request(port, "GET", "/v1/snapshots/" + sid, token=ADMIN)[1])
        node = [n for n in detail["nodes"] if n["hostID"] == HOSTS[0]][0]
        out["manifest"] = {"answer": status, "node_status": node["status"],
                           "node_error": (node.get("error") or "")[:120], "peak_rss_mb": rss(proc.pid, "VmHWM")}
        os.remove(path)

        # idle: 250 idle + 250 trickling connections.
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(250)]
        trickle = [socket.create_connection(("127.0.0.1", port)) for _ in range(250)]
        head = b"GET /v1/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096
        start, sent, last = time.monotonic(), 0, 0.0
        while time.monotonic() - start < IDLE_WAIT:
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                for s in trickle:
                    try:
                        s.send(head[sent:sent + 1])
                    except OSError:
                        pass
                sent += 1
            time.sleep(0.2)

        def still_open(sockets):
            n = 0
            for s in sockets:
                s.setblocking(False)
                try:
                    n += 1 if s.recv(1, socket.MSG_PEEK) else 0
                except BlockingIOError:
                    n += 1
                except OSError:
                    pass
            return n
        out["idle"] = {"seconds": IDLE_WAIT, "idle_open": still_open(idle), "trickling_open": still_open(trickle)}
        for s in idle + trickle:
            s.close()

        # stall: a 160k-item backlog while another node heartbeats.
        reset_peak(proc.pid)
        latencies, stop = [], threading.Event()

        def beat():
            body = json.dumps({"agentTime": now_iso(), "queuedFiles": 0, "uploadedFiles": 0,
                               "uploadedBytes": 0}).encode()
            for _ in range(20000):
                if stop.is_set():
                    return
                t = time.monotonic()
                request(port, "POST", "/v1/agents/%s/heartbeat" % HOSTS[1], body)
                latencies.append(time.monotonic() - t)
                time.sleep(0.05)
        beater = threading.Thread(target=beat)
        beater.start()
        t = time.monotonic()
        items = file_items(HOSTS[0], 0, 160000)
        first = request(port, "POST", "/v1/agents/%s/files" % HOSTS[0], batch("backlog", items))[0]
        mode = "one request"
        if first != 200:
            mode = "batches of 10000 (one request refused with %s)" % first
            for b in range(0, len(items), 10000):
                request(port, "POST", "/v1/agents/%s/files" % HOSTS[0], batch("backlog-%d" % b, items[b:b + 10000]))
        backlog = time.monotonic() - t
        time.sleep(0.5)
        stop.set()
        beater.join(60)
        latencies.sort()
        q = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)
        out["stall"] = {"mode": mode, "backlog_s": round(backlog, 2), "heartbeats": len(latencies),
                        "heartbeat_p50_ms": q(0.5), "heartbeat_p99_ms": q(0.99), "heartbeat_max_ms": q(1.0),
                        "peak_rss_mb": rss(proc.pid, "VmHWM")}
        out["peak_rss_mb"] = rss(proc.pid, "VmHWM")
        out["exited"] = proc.poll()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


main()
