#!/usr/bin/env python3
"""hubfs vs the official Python client (huggingface_hub with hf_xet), all in
one run against one hubsim on loopback (run by scripts/bench-peers.sh; not a
test). Root: it mounts and drops the page cache before every row.

Inputs (random bytes, made here and imported into hubsim):
  bench/big    big.bin, BENCH_PEERS_FILE_MB MiB
  bench/model  BENCH_PEERS_SHARDS safetensors shards of ~BENCH_PEERS_SHARD_MB
               MiB (float32 tensors of random bits, 16 MiB at most), their
               index, a config, a tokenizer.json and a README
Rows, each cold (fresh HF_HOME or hubfs cache dir, page caches dropped, then
hubsim's store read back into memory, as a CDN's would be: design §8):
  - the file: hf_hub_download (the baseline) vs `cp` from a fresh mount vs
    `hubfs cat > file`, and HfFileSystem reading it sequentially (8 MiB reads)
  - the folder: snapshot_download (the baseline) vs `cp -r` from a fresh mount
    vs `hubfs cat` of each file
  - load every tensor of every shard with safetensors (numpy), once with
    safe_open + get_tensor (mmap, as frameworks do) and once with load_file
    (each shard read whole): snapshot_download followed by the load (the
    baseline) vs the load straight from a fresh mount
Every copy is written to local disk and compared with the original outside the
timed part. Per row: wall s, MB/s (file bytes / wall), the ratio of the
baseline's wall time to the row's (> 1: faster than the baseline), and what
hubsim served (MB out of the CAS and data origins, requests). With
BENCH_PEERS_REPEAT=N each row runs N times (all cold) and the median counts.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
HUBFS = os.path.join(BUILD, "bin/hubfs")
HUBSIM = os.path.join(BUILD, "bin/hubsim")
PYENV = os.environ.get("PYENV", os.path.join(BUILD, "pyenv/bin/python"))
OUT = os.environ.get("BENCH_OUT", os.path.join(BUILD, "bench"))
FILE_MB = int(os.environ.get("BENCH_PEERS_FILE_MB", "1024"))
SHARDS = int(os.environ.get("BENCH_PEERS_SHARDS", "4"))
SHARD_MB = int(os.environ.get("BENCH_PEERS_SHARD_MB", "256"))
REPEAT = max(1, int(os.environ.get("BENCH_PEERS_REPEAT", "1")))

# Run by the venv's Python (huggingface_hub, hf_xet, safetensors, numpy).
WRITE_MODEL = r'''
import json, os, sys
import numpy as np
from safetensors.numpy import save_file
root, shards, shard_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
os.makedirs(root, exist_ok=True)
weight_map, total = {}, 0
for s in range(shards):
    name = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
    tensors, left, i = {}, shard_mb << 20, 0
    while left > 0:
        n = min(left, 16 << 20)
        key = "layers.%d.w%d" % (s, i)
        tensors[key] = rng.integers(0, 256, n, dtype=np.uint8).view(np.float32).reshape(-1, 1024)
        weight_map[key] = name
        total += tensors[key].nbytes
        left -= n
        i += 1
    save_file(tensors, os.path.join(root, name), metadata={"format": "np"})
json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
          open(os.path.join(root, "model.safetensors.index.json"), "w"), indent=1)
json.dump({"model_type": "bench", "hidden_size": 1024, "num_hidden_layers": shards},
          open(os.path.join(root, "config.json"), "w"), indent=1)
vocab = {"tok%d" % i: i for i in range(5000)}
json.dump({"version": "1.0", "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "tok0"}},
          open(os.path.join(root, "tokenizer.json"), "w"))
open(os.path.join(root, "README.md"), "w").write("# bench model\n\nRandom weights.\n")
'''

HF_DOWNLOAD = r'''
import sys
from huggingface_hub import hf_hub_download
hf_hub_download(sys.argv[1], sys.argv[2])
'''

SNAPSHOT = r'''
import sys
from huggingface_hub import snapshot_download
print(snapshot_download(sys.argv[1]))
'''

HFFS_READ = r'''
import sys
from huggingface_hub import HfFileSystem
n = 0
with HfFileSystem().open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(8 << 20)
        if not b:
            break
        n += len(b)
if n != int(sys.argv[2]):
    sys.exit("HfFileSystem read %d bytes, want %s" % (n, sys.argv[2]))
'''

# Loads every tensor of every shard in DIR (from the index), as frameworks do.
LOAD = r'''
import json, os, sys
from safetensors import safe_open
def load(d):
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    n = 0
    for shard in sorted(set(idx["weight_map"].values())):
        with safe_open(os.path.join(d, shard), framework="numpy") as f:
            for k in f.keys():
                n += f.get_tensor(k).nbytes
    if n != idx["metadata"]["total_size"]:
        sys.exit("loaded %d bytes of tensors, want %d" % (n, idx["metadata"]["total_size"]))
'''
# The same with safetensors.numpy.load_file (reads each shard whole).
LOAD_FILE = r'''
import json, os, sys
from safetensors.numpy import load_file
def load(d):
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    n = 0
    for shard in sorted(set(idx["weight_map"].values())):
        n += sum(t.nbytes for t in load_file(os.path.join(d, shard)).values())
    if n != idx["metadata"]["total_size"]:
        sys.exit("loaded %d bytes of tensors, want %d" % (n, idx["metadata"]["total_size"]))
'''
AFTER_DOWNLOAD = r'''
from huggingface_hub import snapshot_download
load(snapshot_download(sys.argv[1]))
'''


class Bench:
    def __init__(self, tmp):
        self.tmp = tmp
        self.mounts = []
        self.sim = None
        self.store = None
        self.url = None
        self.rows = []
        self.n = 0

    # --- hubsim
    def start_hubsim(self, data):
        self.store = data
        self.simlog = open(os.path.join(self.tmp, "hubsim.log"), "w")
        self.sim = subprocess.Popen([HUBSIM, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                                    stdout=subprocess.PIPE, stderr=self.simlog, text=True)
        line = self.sim.stdout.readline()
        if not line.startswith("hubsim listening on "):
            sys.exit("hubsim did not start: " + line)
        self.url = line.split()[3]

    def store_in_memory(self):
        """Reads hubsim's store back into the page cache after a drop."""
        for root, _, files in os.walk(self.store):
            for name in files:
                with open(os.path.join(root, name), "rb", buffering=0) as f:
                    while f.read(1 << 20):
                        pass

    def admin(self, method, route):
        req = urllib.request.Request(self.url + "/admin/" + route, method=method)
        with urllib.request.urlopen(req) as r:
            body = r.read()
        return json.loads(body) if body else None

    def served(self):
        c = self.admin("GET", "counters")
        mb = sum(v.get("bytes", 0) for o in ("cas", "data") for v in c.get(o, {}).values()) / 1e6
        req = sum(v.get("requests", 0) for o in ("hub", "cas", "data")
                  for k, v in c.get(o, {}).items() if k != "admin")
        return mb, req

    # --- mounts
    def mount(self, source, cache):
        mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(mnt, exist_ok=True)
        subprocess.run([HUBFS, "mount", source, mnt, "--cache-dir", cache, "--io-timeout", "30"],
                       check=True, env=self.env(None))
        self.mounts.append(mnt)
        return mnt

    def unmount(self, mnt):
        subprocess.run([HUBFS, "unmount", mnt], check=True, stdout=subprocess.DEVNULL)
        self.mounts.remove(mnt)

    def teardown(self):
        for mnt in list(self.mounts):
            if subprocess.run([HUBFS, "unmount", mnt], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0:
                subprocess.run(["fusermount3", "-uz", mnt], stderr=subprocess.DEVNULL)
                subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
            if not mounted(mnt):
                self.mounts.remove(mnt)
        if self.sim:
            self.sim.terminate()
            self.sim.wait()

    # --- rows
    def fresh(self, name):
        self.n += 1
        d = os.path.join(self.tmp, "run%02d-%s" % (self.n, name))
        os.makedirs(d)
        return d

    def env(self, hf_home):
        e = dict(os.environ, HF_ENDPOINT=self.url or "", HF_HUB_DISABLE_TELEMETRY="1",
                 HF_TOKEN_PATH=os.path.join(self.tmp, "no-token"))
        for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HUBFS_CACHE_DIR",
                  "HF_HUB_DISABLE_XET", "HF_XET_CACHE", "HF_HUB_CACHE"):
            e.pop(k, None)
        if hf_home:
            e["HF_HOME"] = hf_home
        return e

    def row(self, group, name, size, setup, baseline=None):
        """REPEAT times: setup() -> (timed, after); drops the page cache, resets
        hubsim's counters, times timed(), then after(first) checks and cleans
        up. Reports the median wall time and the counters of that run."""
        runs = []
        for i in range(REPEAT):
            timed, after = setup()
            os.sync()
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            self.store_in_memory()
            self.admin("DELETE", "counters")
            t0 = time.monotonic()
            timed()
            wall = time.monotonic() - t0
            mb, req = self.served()
            after(i == 0)
            runs.append((wall, mb, req))
        wall, mb, req = sorted(runs)[len(runs) // 2]
        r = {"group": group, "row": name, "wall_s": round(wall, 3),
             "walls_s": [round(x[0], 3) for x in runs],
             "mb_per_s": round(size / 1e6 / wall, 1) if size else None,
             "served_mb": round(mb, 1), "requests": req, "baseline": baseline}
        self.rows.append(r)
        print("bench-peers: " + json.dumps(r), file=sys.stderr)
        return r


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def run(cmd, env=None, stdout=subprocess.DEVNULL):
    p = subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd[:3]), p.returncode, p.stderr[-2000:].decode()))
    return p.stdout


def same_tree(a, b):
    """cmp -r of two folders (symlinks followed: the Hub cache's snapshots); hubsim adds .gitattributes."""
    r = subprocess.run(["diff", "-rq", "-x", ".gitattributes", a, b], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit("copies differ: " + r.stdout.decode()[-2000:])


def main():
    for path, what in ((HUBFS, "scripts/build.sh"), (HUBSIM, "scripts/build.sh"),
                       (PYENV, "scripts/setup-python.sh")):
        if not os.path.exists(path):
            sys.exit("bench-peers: %s is missing: run %s" % (path, what))
    if os.getuid() != 0:
        sys.exit("bench-peers: run as root: it mounts and drops the page cache")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench-peers: terminated"))
    tmp = tempfile.mkdtemp(prefix="hubfs-bench-peers-", dir=os.environ.get("TMPDIR"))
    b = Bench(tmp)
    load_before = os.getloadavg()
    try:
        t0 = time.monotonic()
        src_big, src_model, data = (os.path.join(tmp, n) for n in ("src-big", "src-model", "data"))
        os.makedirs(src_big)
        with open(os.path.join(src_big, "big.bin"), "wb") as f:
            for _ in range(FILE_MB):
                f.write(os.urandom(1 << 20))
        run([PYENV, "-c", WRITE_MODEL, src_model, str(SHARDS), str(SHARD_MB)])
        run([HUBSIM, "import", "--data", data, "bench/big", src_big])
        run([HUBSIM, "import", "--data", data, "bench/model", src_model])
        b.start_hubsim(data)
        print("bench-peers: inputs in %.1f s; hubsim at %s" % (time.monotonic() - t0, b.url),
              file=sys.stderr)
        file_size = os.path.getsize(os.path.join(src_big, "big.bin"))
        model_size = sum(os.path.getsize(os.path.join(src_model, f)) for f in os.listdir(src_model))
        model_files = sorted(os.listdir(src_model))
        label_file = "%d MiB file" % FILE_MB
        label_model = "%d x %d MiB shards + %d small files" % (SHARDS, SHARD_MB, len(model_files) - SHARDS)

        # The interpreter's start and the client's import, part of every
        # Python row (hf download runs the same way).
        b.row("reference", "Python start + import huggingface_hub, safetensors", 0,
              lambda: (lambda: run([PYENV, "-c", "import huggingface_hub, safetensors.numpy"],
                                   b.env(None)), lambda first: None))
        big = os.path.join(src_big, "big.bin")

        def hf(code, args, check=None):
            """A Python row with a fresh HF_HOME; check(HF_HOME) on the first run."""
            def setup():
                home = b.fresh("hf")

                def after(first):
                    if first and check:
                        check(home)
                    shutil.rmtree(home)
                return (lambda: run([PYENV, "-c", code] + args, b.env(home))), after
            return setup

        def on_mount(source, timed, check=None):
            """A row on a fresh mount with a fresh cache dir: timed(mnt, workdir)."""
            def setup():
                d = b.fresh("mount")
                mnt = b.mount(source, os.path.join(d, "cache"))

                def after(first):
                    b.unmount(mnt)
                    if first and check:
                        check(d)
                    shutil.rmtree(d)
                return (lambda: timed(mnt, d)), after
            return setup

        def with_cat(timed, check):
            """A row of `hubfs cat` runs sharing one fresh cache dir: timed(workdir)."""
            def setup():
                d = b.fresh("cat")

                def after(first):
                    if first:
                        check(d)
                    shutil.rmtree(d)
                return (lambda: timed(d)), after
            return setup

        def cat(d, path, dest):
            with open(dest, "wb") as out:
                run([HUBFS, "cat", "--cache-dir", os.path.join(d, "cache"), path], b.env(None), out)

        def check_hf_file(home):
            got = run([PYENV, "-c", "from huggingface_hub import hf_hub_download; "
                       "print(hf_hub_download('bench/big', 'big.bin'))"], b.env(home), subprocess.PIPE)
            run(["cmp", got.decode().strip(), big])

        def check_hf_model(home):
            snap = run([PYENV, "-c", SNAPSHOT, "bench/model"], b.env(home), subprocess.PIPE)
            same_tree(snap.decode().strip(), src_model)

        # --- the file
        base = "hf_hub_download (hf_xet)"
        b.row(label_file, base, file_size, hf(HF_DOWNLOAD, ["bench/big", "big.bin"], check_hf_file))
        b.row(label_file, "cp from a cold mount", file_size,
              on_mount("bench/big", lambda mnt, d: run(["cp", os.path.join(mnt, "big.bin"), d]),
                       lambda d: run(["cmp", os.path.join(d, "big.bin"), big])), base)
        b.row(label_file, "hubfs cat > file, cold", file_size,
              with_cat(lambda d: cat(d, "bench/big/big.bin", os.path.join(d, "big.bin")),
                       lambda d: run(["cmp", os.path.join(d, "big.bin"), big])), base)
        b.row(label_file, "HfFileSystem sequential read (8 MiB reads, no copy)", file_size,
              hf(HFFS_READ, ["bench/big/big.bin", str(file_size)]), base)

        # --- the folder
        base = "snapshot_download (hf_xet)"
        b.row(label_model, base, model_size, hf(SNAPSHOT, ["bench/model"], check_hf_model))
        b.row(label_model, "cp -r from a cold mount", model_size,
              on_mount("bench/model", lambda mnt, d: run(["cp", "-r", mnt + "/.", os.path.join(d, "copy")]),
                       lambda d: same_tree(os.path.join(d, "copy"), src_model)), base)

        def cat_model(d):
            os.makedirs(os.path.join(d, "copy"))
            for f in model_files:
                cat(d, "bench/model/" + f, os.path.join(d, "copy", f))
        b.row(label_model, "hubfs cat > file of each file, cold", model_size,
              with_cat(cat_model, lambda d: same_tree(os.path.join(d, "copy"), src_model)), base)

        # --- load all tensors, two ways
        for way, code in (("safe_open + get_tensor", LOAD), ("load_file", LOAD_FILE)):
            group = "load all tensors (%s, numpy), %s" % (way, label_model)
            base = "snapshot_download + load"
            b.row(group, base, model_size, hf(code + AFTER_DOWNLOAD, ["bench/model"]))
            b.row(group, "load from a cold mount", model_size,
                  on_mount("bench/model", lambda mnt, d, code=code: run(
                      [PYENV, "-c", code + "load(sys.argv[1])\n", mnt], b.env(None))), base)
    finally:
        b.teardown()
        if b.mounts:
            print("bench-peers: %s still mounted; leaving %s" % (b.mounts, tmp), file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    report(b.rows, load_before)


def report(rows, load_before):
    by = {(r["group"], r["row"]): r for r in rows}
    for r in rows:
        if r["baseline"]:
            r["vs_baseline"] = round(by[(r["group"], r["baseline"])]["wall_s"] / r["wall_s"], 2)
    load = os.getloadavg()
    lines = ["| case | row | wall s | MB/s | vs baseline | served MB | requests |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append("| %s | %s | %.2f | %s | %s | %.0f | %d |" % (
            r["group"], r["row"], r["wall_s"], "%.0f" % r["mb_per_s"] if r["mb_per_s"] else "",
            ("%.2fx" % r["vs_baseline"]) if r["baseline"] else "" if r["group"] == "reference" else "baseline",
            r["served_mb"], r["requests"]))
    targets = []
    for r in rows:
        if r["row"] in ("cp from a cold mount", "cp -r from a cold mount"):
            what = "%s (%s) at least as fast as %s" % (r["row"], r["group"], r["baseline"])
            ok = r["vs_baseline"] >= 1
        elif r["row"] == "load from a cold mount":
            what = "load from a cold mount faster than %s (%s)" % (
                r["baseline"], r["group"].split(" (")[1].split(")")[0])
            ok = r["vs_baseline"] > 1
        else:
            continue
        targets.append({"target": what, "measured": "%.2fx" % r["vs_baseline"], "pass": ok})
    lines += ["", "| target (reported, not asserted) | measured | |", "| --- | --- | --- |"]
    lines += ["| %s | %s | %s |" % (t["target"], t["measured"], "met" if t["pass"] else "MISSED")
              for t in targets]
    lines += ["", "load average (1, 5, 15 min) at the start: %.2f %.2f %.2f; at the end: %.2f %.2f %.2f; %d CPUs"
              % (load_before + load + (os.cpu_count(),))]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    os.makedirs(OUT, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    with open(os.path.join(OUT, "peers-%s.json" % stamp), "w") as f:
        json.dump({"file_mb": FILE_MB, "shards": SHARDS, "shard_mb": SHARD_MB, "loadavg_start": load_before, "loadavg_end": load,
                   "cpus": os.cpu_count(), "rows": rows, "targets": targets}, f, indent=1)
    with open(os.path.join(OUT, "peers-%s.md" % stamp), "w") as f:
        f.write(text)
    print("bench-peers: JSON: %s" % os.path.join(OUT, "peers-%s.json" % stamp), file=sys.stderr)


if __name__ == "__main__":
    main()
