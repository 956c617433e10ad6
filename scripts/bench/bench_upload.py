#!/usr/bin/env python3
"""Upload benchmark (run by scripts/bench-upload.sh; not a test).

Each row gets a fresh hubsim on loopback and a fresh client cache unless it
says otherwise; all rows run in one go so the ratios compare like with like.
Rows: a 1 GiB random file and a folder of 1 000 small files with `hubfs upload`
and with the official JS client (one commit each; Python's hf_xet too when
build/pyenv has it); the same 1 GiB file again after a 1 MiB change in the
middle (hubfs, warm cache); `hubfs xet hash` of the file on one core (the
hashing bound); optionally a big file for peak RSS (BENCH_UPLOAD_BIG_GB).
Measured per row: wall time, CPU seconds (user+sys of the client process),
peak RSS, bytes the client sent to hubsim (all origins) and xorb bytes.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
HUBFS = os.path.join(BUILD, "bin/hubfs")
HUBSIM = os.path.join(BUILD, "bin/hubsim")
KIT = os.environ.get("KIT", os.path.join(BUILD, "conformance"))
PYENV = os.environ.get("PYENV", os.path.join(BUILD, "pyenv/bin/python"))
SIZE_MB = int(os.environ.get("BENCH_UPLOAD_MB", "1024"))
SMALL_FILES = int(os.environ.get("BENCH_UPLOAD_FILES", "1000"))
BIG_GB = int(os.environ.get("BENCH_UPLOAD_BIG_GB", "0"))
TOKEN = "hf_bench_token"


class Hubsim:
    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, "sim-" + name)
        self.log = open(self.dir + ".log", "w")
        self.proc = subprocess.Popen([HUBSIM, "serve", "--data", self.dir, "--listen", "127.0.0.1:0",
                                      "--user", "me:" + TOKEN],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("hubsim listening on "):
            sys.exit("hubsim did not start")
        self.url = line.split()[3]
        self.call("POST", "/api/repos/create",
                  {"name": "bench", "organization": "me", "type": "model"})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + TOKEN)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as r:
            return r.read()

    def reset(self):
        self.call("DELETE", "/admin/counters")

    def faults(self, spec):
        """Sets hubsim's fault spec (tests/hubsim/README.md), e.g. "uprate=100M"."""
        req = urllib.request.Request(self.url + "/admin/faults", data=spec.encode(), method="POST")
        with urllib.request.urlopen(req) as r:
            r.read()

    def sent(self):
        c = json.loads(self.call("GET", "/admin/counters"))
        total = sum(v.get("bytes_in", 0) for o in ("hub", "cas", "data")
                    for k, v in c.get(o, {}).items() if k != "admin")
        xorb = c.get("cas", {}).get("xorb-upload", {})
        return total, xorb.get("bytes_in", 0), xorb.get("requests", 0)

    def commits(self):
        return len(json.loads(self.call("GET", "/api/models/me/bench/commits/main?limit=1000")))

    def commits_all(self):
        return json.loads(self.call("GET", "/api/models/me/bench/commits/main?limit=10000"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(cmd, env):
    """Runs cmd; returns (wall s, cpu s, peak RSS MiB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    out, err = p.stdout.read(), p.stderr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s %s" % (cmd[:3], p.returncode, out[-500:], err[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def write_random(path, mib, seed):
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))


def main():
    tmp = tempfile.mkdtemp(prefix="hubfs-bench-upload-")
    rows = []
    try:
        big = os.path.join(tmp, "big.bin")
        write_random(big, SIZE_MB, 1)
        folder = os.path.join(tmp, "small")
        rng = random.Random(2)
        for i in range(SMALL_FILES):
            d = os.path.join(folder, "d%02d" % (i % 20))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "f%04d.txt" % i), "wb") as f:
                f.write(("file %d\n" % i).encode() * rng.randint(10, 400))
        mb = SIZE_MB * 1048576 / 1e6

        def env_for(sim, cache):
            e = dict(os.environ, HF_ENDPOINT=sim.url, HF_TOKEN=TOKEN, HUBFS_CACHE_DIR=cache,
                     HF_HOME=os.path.join(tmp, "hfhome"), HF_REPO="me/bench", KIT=KIT,
                     HF_HUB_DISABLE_TELEMETRY="1")
            e.pop("HF_HUB_OFFLINE", None)
            return e

        def row(name, sim, cmd, env, data_mb=None, extra=None):
            sim.reset()
            wall, cpu, rss = run(cmd, env)
            sent, xorb_bytes, xorbs = sim.sent()
            r = {"row": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                 "peak_rss_mib": round(rss, 1), "sent_mb": round(sent / 1e6, 2),
                 "xorb_mb": round(xorb_bytes / 1e6, 2), "xorbs": xorbs}
            if data_mb:
                r["mb_per_s"] = round(data_mb / wall, 1)
            r.update(extra or {})
            rows.append(r)
            print(json.dumps(r), file=sys.stderr)
            return r

        # hubfs: 1 GiB, then the 1 MiB edit with the same cache and hubsim
        sim = Hubsim(tmp, "hubfs")
        cache = os.path.join(tmp, "cache-hubfs")
        first = row("hubfs upload, %d MiB random" % SIZE_MB, sim,
                    [HUBFS, "upload", "me/bench", big, "--quiet"], env_for(sim, cache), mb)
        with open(big, "r+b") as f:
            f.seek(SIZE_MB * 1048576 // 2)
            f.write(random.Random(3).randbytes(1 << 20))
        edit = row("hubfs re-upload after a 1 MiB edit", sim,
                   [HUBFS, "upload", "me/bench", big, "--quiet"], env_for(sim, cache), mb)
        edit["vs_first"] = round(first["wall_s"] / edit["wall_s"], 1)
        row("hubfs upload, %d small files" % SMALL_FILES, sim,
            [HUBFS, "upload", "me/bench", folder, "small", "--quiet"], env_for(sim, cache),
            extra={"commits": 1})
        sim.stop()

        sim = Hubsim(tmp, "js")
        js = row("JS client upload, %d MiB random" % SIZE_MB, sim,
                 ["node", os.path.join(ROOT, "scripts/bench/js_upload.mjs"), big],
                 env_for(sim, os.path.join(tmp, "cache-js")), mb)
        row("JS client upload, %d small files" % SMALL_FILES, sim,
            ["node", os.path.join(ROOT, "scripts/bench/js_upload.mjs"), folder],
            env_for(sim, os.path.join(tmp, "cache-js")))
        # The JS client chunks by the legacy rule: how much of its upload dedups.
        row("hubfs upload of the file the JS client uploaded (fresh cache)", sim,
            [HUBFS, "upload", "me/bench", big, "again.bin", "--quiet"],
            env_for(sim, os.path.join(tmp, "cache-after-js")), mb)
        sim.stop()

        if os.path.exists(PYENV):
            sim = Hubsim(tmp, "py")
            code = ("import sys; from huggingface_hub import HfApi; "
                    "HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo='big.bin', "
                    "repo_id='me/bench')")
            row("hf_xet (huggingface_hub) upload, %d MiB random" % SIZE_MB, sim,
                [PYENV, "-c", code, big], env_for(sim, os.path.join(tmp, "cache-py")), mb)
            code = ("import sys; from huggingface_hub import HfApi; "
                    "HfApi().upload_folder(folder_path=sys.argv[1], path_in_repo='small', "
                    "repo_id='me/bench')")
            row("hf_xet (huggingface_hub) upload, %d small files" % SMALL_FILES, sim,
                [PYENV, "-c", code, folder], env_for(sim, os.path.join(tmp, "cache-py")))
            row("hubfs upload of the file hf_xet uploaded (fresh cache)", sim,
                [HUBFS, "upload", "me/bench", big, "again.bin", "--quiet"],
                env_for(sim, os.path.join(tmp, "cache-after-py")), mb)
            sim.stop()

        wall, cpu, _ = run(["taskset", "-c", "0", HUBFS, "xet", "hash", big], dict(os.environ))
        rows.append({"row": "hubfs xet hash, one core", "wall_s": round(wall, 3),
                     "cpu_s": round(cpu, 3), "mb_per_s": round(mb / wall, 1)})

        if BIG_GB > 0:
            huge = os.path.join(tmp, "huge.bin")
            write_random(huge, BIG_GB * 1024, 4)
            os.unlink(big)
            sim = Hubsim(tmp, "huge")
            row("hubfs upload, %d GiB random (memory bound)" % BIG_GB, sim,
                [HUBFS, "upload", "me/bench", huge, "--quiet"],
                env_for(sim, os.path.join(tmp, "cache-huge")), BIG_GB * 1073.741824)
            sim.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("| row | wall s | MB/s | CPU s | peak RSS MiB | sent MB | xorb MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["row"], r["wall_s"], r.get("mb_per_s", ""), r["cpu_s"], r.get("peak_rss_mib", ""),
            r.get("sent_mb", ""), r.get("xorb_mb", "")))
    by = {r["row"]: r for r in rows}
    h = by["hubfs upload, %d MiB random" % SIZE_MB]
    j = by["JS client upload, %d MiB random" % SIZE_MB]
    x = by["hubfs xet hash, one core"]
    e = by["hubfs re-upload after a 1 MiB edit"]
    print()
    print("hubfs vs JS, %d MiB: %.2fx faster" % (SIZE_MB, j["wall_s"] / h["wall_s"]))
    print("hubfs vs JS, small files: %.2fx faster" % (
        by["JS client upload, %d small files" % SMALL_FILES]["wall_s"] /
        by["hubfs upload, %d small files" % SMALL_FILES]["wall_s"]))
    print("upload / xet hash on one core: %.2f (target >= 0.5)" % (h["mb_per_s"] / x["mb_per_s"]))
    print("re-upload after a 1 MiB edit: %.1fx faster than the first (target >= 5), %.2f MB of xorbs"
          % (e["vs_first"], e["xorb_mb"]))
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    with open(os.path.join(BUILD, "bench", "upload.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
