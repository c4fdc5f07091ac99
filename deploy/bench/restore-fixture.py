#!/usr/bin/env python3
"""Writes one node's restorable snapshot as a local tree, for the restore and prune benchmarks.

Usage: restore-fixture.py ROOT --cluster C --host H --tag T [--big N --big-mib M]
                          [--small N --small-kib K --tables T] [--unreferenced N --unreferenced-bytes B]

ROOT/data/ mirrors the node's pool, `<cluster>/nodes/<host>/data/` in docs/FORMAT.md: keyspace
`bench`, tables `tNNN-<32 hex id>`, SSTables `nb-<gen>-big-<Component>` of random bytes. Upload it
under that prefix (`cassnap store copy ROOT/data s3://B --prefix C/nodes/H/data`), then put
ROOT/manifest.json at `C/nodes/H/snapshots/T/manifest.json` and ROOT/record.json at
`C/snapshots/T.json`. The manifest lists every file with its real size and SHA-256, except the
`--unreferenced` ones (table `junk`), which no manifest lists: prune's garbage.
"""
import argparse, datetime, hashlib, json, os, uuid

COMPONENTS = ["Data.db", "Index.db", "Summary.db", "Filter.db", "Statistics.db",
              "CompressionInfo.db", "Digest.crc32", "TOC.txt"]
CHUNK = 8 << 20


def write_random(path, size):
    """Random bytes (nothing compresses or dedups them); returns the SHA-256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(CHUNK, left))
            f.write(block)
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def instant(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--cluster", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--big", type=int, default=0)
    p.add_argument("--big-mib", type=int, default=1024)
    p.add_argument("--small", type=int, default=0)
    p.add_argument("--small-kib", type=int, default=16)
    p.add_argument("--tables", type=int, default=10)
    p.add_argument("--unreferenced", type=int, default=0)
    p.add_argument("--unreferenced-bytes", type=int, default=512)
    a = p.parse_args()

    node_root = f"{a.prefix}{a.cluster}/nodes/{a.host}/"
    data = os.path.join(a.root, "data")
    ks = "bench"
    tables = {}  # table index -> (name, uuid, {sstable name: [file entries]})

    def table(i):
        if i not in tables:
            tables[i] = (f"t{i:03d}", uuid.UUID(int=(0x5a1c395e78ef11eebd8a << 48) + i), {})
        return tables[i]

    def add(i, gen, component, size):
        name, tid, sstables = table(i)
        tdir = f"{name}-{tid.hex}"
        fname = f"nb-{gen}-big-{component}"
        os.makedirs(os.path.join(data, ks, tdir), exist_ok=True)
        sha = write_random(os.path.join(data, ks, tdir, fname), size)
        sstables.setdefault(f"nb-{gen}-big", []).append({
            "fileName": fname, "objectKey": f"{node_root}data/{ks}/{tdir}/{fname}",
            "sha256": sha, "size": size})

    gen = 1
    for _ in range(a.big):  # each big file is the Data.db of an SSTable of its own, in table 0
        add(0, gen, "Data.db", a.big_mib << 20)
        gen += 1
    for n in range(a.small):  # 8 components per SSTable, SSTables spread over the tables
        add((n // len(COMPONENTS)) % a.tables, gen + n // len(COMPONENTS), COMPONENTS[n % len(COMPONENTS)],
            a.small_kib << 10)

    # Garbage: files in the pool that no manifest lists (an expired snapshot's, say).
    if a.unreferenced:
        junk = os.path.join(data, ks, "junk-" + uuid.UUID(int=7).hex)
        os.makedirs(junk, exist_ok=True)
        for n in range(a.unreferenced):
            with open(os.path.join(junk, f"nb-{n + 1}-big-Data.db"), "wb") as f:
                f.write(os.urandom(a.unreferenced_bytes))

    now = datetime.datetime.now(datetime.timezone.utc)
    manifest = {
        "cluster": a.cluster,
        "formatVersion": "1.1",
        "node": {"cassandraVersion": "4.1.5", "datacenter": "dc1", "hostId": a.host,
                 "hostname": "bench-node-1", "rack": "rack1", "tokens": ["0"]},
        "nodeFiles": [],
        "tables": [
            {"keyspace": ks, "snapshotFiles": [],
             "sstables": [{"files": sorted(files, key=lambda f: f["fileName"]), "name": s}
                          for s, files in sorted(sst.items())],
             "table": name, "tableId": str(tid)}
            for _, (name, tid, sst) in sorted(tables.items())],
        "tag": a.tag,
        "takenAt": instant(now),
    }
    record = {
        "cluster": a.cluster,
        "formatVersion": "1.0",
        "id": str(uuid.uuid4()),
        "nodes": [{"datacenter": "dc1", "hostId": a.host, "hostname": "bench-node-1",
                   "manifestKey": f"{node_root}snapshots/{a.tag}/manifest.json", "rack": "rack1",
                   "status": "complete", "takenAt": instant(now)}],
        "requestedAt": instant(now),
        "status": "complete",
        "tag": a.tag,
    }
    for name, doc in [("manifest.json", manifest), ("record.json", record)]:
        with open(os.path.join(a.root, name), "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
    files = sum(len(fs) for _, _, sst in tables.values() for fs in sst.values())
    size = sum(f["size"] for _, _, sst in tables.values() for fs in sst.values() for f in fs)
    print(json.dumps({"files": files, "bytes": size, "unreferenced": a.unreferenced}))


if __name__ == "__main__":
    main()
