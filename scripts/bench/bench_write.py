#!/usr/bin/env python3
"""Writable-mount benchmark (run by scripts/bench-write.sh; not a test).

One run, each row against a fresh hubsim on loopback and a fresh cache:
- `cp` of a random file (BENCH_WRITE_MB, default 1024) into a --rw mount,
  then `hubfs sync` (close -> committed) vs `hubfs upload` of the same file vs
  the official JS client's upload;
- `cp -r` of BENCH_WRITE_FILES (1000) small files: wall time to committed and
  commits made;
- an in-place 1 MiB edit in the middle of the file, BENCH_WRITE_EDITS (5)
  times: wall time to committed (median, first, min, max) and bytes
  uploaded, vs re-uploading the whole file (the first cp);
- close-to-commit latency of a small file (fsync right after the write);
- `hubfs upload` and `cp` into the mount again with hubsim's xorb uploads
  paced at BENCH_UPLINK bytes per second per request (default 100M; "" to
  skip): on a real uplink the upload, not the CPU, is the bound, and a file
  uploaded while it is written is committed soon after its close.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_upload import Hubsim, run, write_random, HUBFS, KIT, ROOT, BUILD, TOKEN  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_WRITE_MB", "1024"))
FILES = int(os.environ.get("BENCH_WRITE_FILES", "1000"))
UPLINK = os.environ.get("BENCH_UPLINK", "100M")
EDITS = max(1, int(os.environ.get("BENCH_WRITE_EDITS", "5")))


def main():
    tmp = tempfile.mkdtemp(prefix="hubfs-bench-write-")
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    rows = []
    sims = []

    def env_for(sim, cache):
        e = dict(os.environ, HF_ENDPOINT=sim.url, HF_TOKEN=TOKEN, HUBFS_CACHE_DIR=cache,
                 HF_HOME=os.path.join(tmp, "hfhome"), HF_REPO="me/bench", KIT=KIT)
        e.pop("HF_HUB_OFFLINE", None)
        return e

    def sync():
        fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)
        os.close(fd)

    def state_count(cache, key):
        # The mount's state record (refreshed every 2 s): one per daemon.
        time.sleep(2.5)
        total = 0
        for name in os.listdir(os.path.join(cache, "mounts")):
            if name.endswith(".json"):
                with open(os.path.join(cache, "mounts", name)) as f:
                    total += json.load(f).get(key, 0)
        return total

    def unmount(env):
        subprocess.run([HUBFS, "unmount", mnt], env=env, capture_output=True)

    try:
        big = os.path.join(tmp, "big.bin")
        write_random(big, SIZE_MB, 1)
        mb = SIZE_MB * 1048576 / 1e6
        small = os.path.join(tmp, "small")
        rng = random.Random(2)
        for i in range(FILES):
            d = os.path.join(small, "d%02d" % (i % 20))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "f%04d.txt" % i), "wb") as f:
                f.write(("file %d\n" % i).encode() * rng.randint(10, 400))

        # hubfs upload and the JS client, baselines
        sim = Hubsim(tmp, "up")
        sims.append(sim)
        wall, cpu, rss = run([HUBFS, "upload", "me/bench", big, "--quiet"],
                             env_for(sim, os.path.join(tmp, "c-up")))
        rows.append({"row": "hubfs upload, %d MiB" % SIZE_MB, "wall_s": round(wall, 2),
                     "mb_per_s": round(mb / wall, 1), "cpu_s": round(cpu, 2)})
        sim.stop()
        sims.remove(sim)
        sim = Hubsim(tmp, "js")
        sims.append(sim)
        wall, cpu, rss = run(["node", os.path.join(ROOT, "scripts/bench/js_upload.mjs"), big],
                             env_for(sim, os.path.join(tmp, "c-js")))
        rows.append({"row": "JS client upload, %d MiB" % SIZE_MB, "wall_s": round(wall, 2),
                     "mb_per_s": round(mb / wall, 1), "cpu_s": round(cpu, 2)})
        sim.stop()
        sims.remove(sim)

        # the mount
        def cp_into_mount(sim, cache, label):
            env = env_for(sim, cache)
            subprocess.run([HUBFS, "mount", "me/bench", mnt, "--rw", "--commit-delay", "1"],
                           env=env, check=True)
            t0 = time.monotonic()
            subprocess.run(["cp", big, os.path.join(mnt, "big.bin")], check=True)
            t_close = time.monotonic() - t0
            sync()
            wall = time.monotonic() - t0
            rows.append({"row": "cp %d MiB into the mount, close -> committed%s" % (SIZE_MB, label),
                         "wall_s": round(wall, 2), "mb_per_s": round(mb / wall, 1),
                         "close_s": round(t_close, 2),
                         "uploaded_while_written": state_count(cache, "uploaded_while_written")})
            return env, wall

        sim = Hubsim(tmp, "mount")
        sims.append(sim)
        env, cp_wall = cp_into_mount(sim, os.path.join(tmp, "c-mount"), "")

        before = len(sim.commits_all())
        t0 = time.monotonic()
        subprocess.run(["cp", "-r", small, os.path.join(mnt, "small")], check=True)
        sync()
        rows.append({"row": "cp -r of %d small files, -> committed" % FILES,
                     "wall_s": round(time.monotonic() - t0, 2),
                     "commits": len(sim.commits_all()) - before})

        # EDITS edits in a row (other bytes each time), each timed from the
        # open to the commit: one sample is at the mercy of the machine.
        edits, xorb_max = [], 0
        for i in range(EDITS):
            sim.reset()
            t0 = time.monotonic()
            with open(os.path.join(mnt, "big.bin"), "r+b") as f:
                f.seek(SIZE_MB * 1048576 // 2)
                f.write(random.Random(3 + i).randbytes(1 << 20))
            sync()
            edits.append(time.monotonic() - t0)
            _, xorb_bytes, _ = sim.sent()
            xorb_max = max(xorb_max, xorb_bytes)
            time.sleep(0.5)  # the view's move after the commit, untimed
        first = edits[0]
        edits.sort()
        edit = edits[len(edits) // 2]
        rows.append({"row": "in-place 1 MiB edit, -> committed, median of %d" % EDITS,
                     "wall_s": round(edit, 2), "first_s": round(first, 2),
                     "min_s": round(edits[0], 2), "max_s": round(edits[-1], 2),
                     "xorb_mb": round(xorb_max / 1e6, 2),
                     "vs_cp": round(cp_wall / edit, 1)})

        lat = []
        for i in range(5):
            t0 = time.monotonic()
            fd = os.open(os.path.join(mnt, "s%d.txt" % i), os.O_CREAT | os.O_WRONLY, 0o644)
            os.write(fd, b"x\n")
            os.fsync(fd)
            os.close(fd)
            lat.append(time.monotonic() - t0)
        lat.sort()
        rows.append({"row": "small file write + fsync (committed), median of 5",
                     "wall_s": round(lat[2], 3)})
        unmount(env)
        sim.stop()
        sims.remove(sim)

        if UPLINK:
            label = ", uplink %sB/s per request" % UPLINK
            sim = Hubsim(tmp, "up-wan")
            sims.append(sim)
            sim.faults("uprate=" + UPLINK + ",only=cas")
            wall, cpu, rss = run([HUBFS, "upload", "me/bench", big, "--quiet"],
                                 env_for(sim, os.path.join(tmp, "c-up-wan")))
            rows.append({"row": "hubfs upload, %d MiB%s" % (SIZE_MB, label),
                         "wall_s": round(wall, 2), "mb_per_s": round(mb / wall, 1),
                         "cpu_s": round(cpu, 2)})
            sim.stop()
            sims.remove(sim)
            sim = Hubsim(tmp, "mount-wan")
            sims.append(sim)
            sim.faults("uprate=" + UPLINK + ",only=cas")
            env, _ = cp_into_mount(sim, os.path.join(tmp, "c-mount-wan"), label)
            unmount(env)
    finally:
        subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        for s in sims:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print("| row | wall s | MB/s | other |")
    print("| --- | ---: | ---: | --- |")
    for r in rows:
        other = ", ".join("%s=%s" % (k, v) for k, v in r.items()
                          if k not in ("row", "wall_s", "mb_per_s"))
        print("| %s | %s | %s | %s |" % (r["row"], r["wall_s"], r.get("mb_per_s", ""), other))
    up = rows[0]["wall_s"]
    cp = rows[2]["wall_s"]
    print()
    print("cp into the mount vs hubfs upload: %.2fx (target >= 0.8)" % (up / cp))
    print("in-place edit (median) vs the whole file: %.1fx faster (target >= 10)"
          % rows[4]["vs_cp"])
    if UPLINK:
        print("with a %sB/s uplink per request: cp into the mount vs hubfs upload: %.2fx"
              % (UPLINK, rows[6]["wall_s"] / rows[7]["wall_s"]))
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    with open(os.path.join(BUILD, "bench", "write.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
