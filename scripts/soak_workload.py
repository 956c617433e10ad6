#!/usr/bin/env python3
"""The mixed workload of scripts/soak.sh, against a writable mount.

Readers read random ranges of the repo's original files and compare them
with the local copies they were imported from; writers create files under
w/<writer>/ (random sizes), overwrite, rename and delete some of them, and
fsync every few files. A sampler records the daemon's RSS, open descriptors,
threads, inodes held and the cache size every --every seconds.

At the end the expected state of every file a writer touched is written to
--expect (JSON: path -> sha256 or null for deleted), the samples to
--samples (CSV), and the counts to stdout as JSON.

usage: soak_workload.py --mnt DIR --src DIR --cache DIR --pid PID --seconds S
         --readers N --writers N --expect FILE --samples FILE [--every S]
"""
import argparse
import csv
import hashlib
import json
import os
import random
import threading
import time


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {"reads": 0, "read_bytes": 0, "wrong_reads": 0, "read_errors": 0,
                  "creates": 0, "overwrites": 0, "renames": 0, "deletes": 0, "fsyncs": 0,
                  "write_errors": 0, "fsync_errors": 0, "slowest": {}, "errors": []}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def op_time(self, kind, seconds):
        with self.lock:
            self.c["slowest"][kind] = max(self.c["slowest"].get(kind, 0), round(seconds, 3))

    def error(self, kind, err):
        with self.lock:
            if len(self.c["errors"]) < 10:
                self.c["errors"].append("%s: %s" % (kind, err))


def reader(args, stop, counts, seed):
    rng = random.Random(seed)
    files = []
    for root, _, names in os.walk(args.src):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), args.src))
    while not stop.is_set():
        rel = rng.choice(files)
        size = os.path.getsize(os.path.join(args.src, rel))
        off = rng.randrange(0, max(size, 1))
        length = min(rng.choice([4096, 65536, 1 << 20]), size - off)
        t = time.monotonic()
        try:
            with open(os.path.join(args.mnt, rel), "rb") as f:
                f.seek(off)
                got = f.read(length)
        except OSError as err:
            counts.add("read_errors")
            counts.error("read " + rel, err)
            continue
        finally:
            counts.op_time("read", time.monotonic() - t)
        with open(os.path.join(args.src, rel), "rb") as f:
            f.seek(off)
            want = f.read(length)
        counts.add("reads")
        counts.add("read_bytes", len(got))
        if got != want:
            counts.add("wrong_reads")


def writer(args, stop, counts, wid, expect, expect_lock):
    rng = random.Random(1000 + wid)
    d = os.path.join(args.mnt, "w", str(wid))
    os.makedirs(d, exist_ok=True)
    mine = []  # paths (relative to the mount) this writer owns now
    n = 0
    while not stop.is_set():
        action = rng.random()
        t = time.monotonic()
        what = "create"
        try:
            if action < 0.6 or not mine:
                rel = "w/%d/f%05d.bin" % (wid, n)
                n += 1
                data = rng.randbytes(rng.choice([1024, 50_000, 700_000, 3_000_000]))
                do_fsync = n % 7 == 0
                with open(os.path.join(args.mnt, rel), "wb") as f:
                    f.write(data)
                    if do_fsync:
                        f.flush()
                        t_sync = time.monotonic()
                        try:
                            os.fsync(f.fileno())
                            counts.add("fsyncs")
                        except OSError as err:
                            counts.add("fsync_errors")  # stays journaled; checked at the end
                            counts.error("fsync " + rel, err)
                        counts.op_time("fsync", time.monotonic() - t_sync)
                mine.append(rel)
                key, value, kind = rel, hashlib.sha256(data).hexdigest(), "creates"
            elif action < 0.75:
                what = "overwrite"
                rel = rng.choice(mine)
                data = rng.randbytes(rng.choice([2048, 300_000]))
                with open(os.path.join(args.mnt, rel), "wb") as f:
                    f.write(data)
                key, value, kind = rel, hashlib.sha256(data).hexdigest(), "overwrites"
            elif action < 0.9:
                what = "rename"
                rel = rng.choice(mine)
                new = rel.replace(".bin", "r.bin")
                os.rename(os.path.join(args.mnt, rel), os.path.join(args.mnt, new))
                mine[mine.index(rel)] = new
                with expect_lock:
                    expect[new] = expect.get(rel)
                    expect[rel] = None
                counts.add("renames")
                continue
            else:
                what = "delete"
                rel = rng.choice(mine)
                os.unlink(os.path.join(args.mnt, rel))
                mine.remove(rel)
                key, value, kind = rel, None, "deletes"
        except OSError as err:
            counts.add("write_errors")
            counts.error(what, err)
            continue
        finally:
            counts.op_time(what, time.monotonic() - t)
        with expect_lock:
            expect[key] = value
        counts.add(kind)
        time.sleep(rng.random() * 0.2)


def dir_size(path):
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(root, n)).st_blocks * 512
            except OSError:
                pass
    return total


def sample(args, t0):
    row = {"t_s": round(time.monotonic() - t0, 1)}
    try:
        with open("/proc/%d/status" % args.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "Threads"):
                    row[k] = int(v.split()[0])
        row["fds"] = len(os.listdir("/proc/%d/fd" % args.pid))
    except OSError:
        row["gone"] = 1
    try:
        with open(os.path.join(args.cache, "mounts", "%d.json" % args.pid)) as f:
            st = json.load(f)
        row["inodes"] = st.get("inodes", 0)
        row["pending"] = st.get("pending", 0)
        row["commits"] = st.get("commits", 0)
    except (OSError, ValueError):
        pass
    row["cache_mb"] = round(dir_size(args.cache) / 2**20, 1)
    return row


def main():
    ap = argparse.ArgumentParser()
    for a in ("--mnt", "--src", "--cache", "--expect", "--samples"):
        ap.add_argument(a, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--every", type=float, default=10)
    args = ap.parse_args()

    stop = threading.Event()
    counts = Counts()
    expect, expect_lock = {}, threading.Lock()
    threads = [threading.Thread(target=reader, args=(args, stop, counts, i), daemon=True)
               for i in range(args.readers)]
    threads += [threading.Thread(target=writer, args=(args, stop, counts, i, expect, expect_lock),
                                 daemon=True) for i in range(args.writers)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    rows = []
    while time.monotonic() - t0 < args.seconds:
        rows.append(sample(args, t0))
        time.sleep(min(args.every, max(0.0, args.seconds - (time.monotonic() - t0))))
    stop.set()
    for t in threads:
        t.join(timeout=120)
    rows.append(sample(args, t0))
    keys = sorted({k for r in rows for k in r})
    with open(args.samples, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    with open(args.expect, "w") as f:
        json.dump(expect, f)
    print(json.dumps(counts.c))


if __name__ == "__main__":
    main()
