#!/usr/bin/env python3
"""`hubfs upload` against hubsim, checked by other readers than hubfs itself.

- A folder of 0-byte, small text, non-ASCII nested, binary, compressible,
  float-weight and random files (one over 64 MiB, so it spans xorbs) goes up
  in one commit; every file then downloads byte-identical through hubsim's
  plain resolve (the server rebuilds it from our xorbs and shard, which it
  validated in full), through the official JS client when its kit is given,
  and through `hubfs cat`; paths-info's xetHash equals the official xet-core
  chunker's file hash (the kit's WASM oracle).
- Uploading the same folder again makes no commit and sends zero xorbs; to a
  new path it commits and still sends zero xorbs (dedup).
- A 1 MiB edit in the middle of a 256 MiB file re-uploads at most ~3 MiB of
  xorb data; with a fresh cache (global dedup only) the figure is printed.
- --create-pr prints the PR URL, later uploads to @refs/pr/N land there;
  --delete removes matching remote files; error exits for a missing repo, a
  missing branch, no token and a read-only token.

usage: upload_test.py --hubfs BIN --hubsim BIN [--kit DIR]
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "hf_uploader_token"
READER = "hf_reader_token"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Hubsim:
    def __init__(self, binary, data, log):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data", data, "--listen", "127.0.0.1:0",
             "--user", "me:" + TOKEN, "--user", "reader:" + READER],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.url = None
        deadline = time.time() + 10
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("hubsim listening on "):
                self.url = line.split()[3]
                break
        if not self.url:
            self.stop()
            fail("hubsim did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def request(self, method, path, body=None, token=TOKEN, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    def counters(self):
        return json.loads(self.request("GET", "/admin/counters"))

    def xorb_uploads(self):
        c = self.counters()["cas"].get("xorb-upload", {})
        return c.get("requests", 0), c.get("bytes_in", 0)


def make_files(root):
    rng = random.Random(20261205)
    os.makedirs(os.path.join(root, "dir/sub"), exist_ok=True)
    files = {}

    def put(rel, data):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        files[rel] = data

    put("empty.txt", b"")
    put("README.md", b"# a model\n\nUploaded by hubfs.\n")
    put("dir/sub/na\u00efve \u65e5\u672c.txt", "caf\u00e9 \u2014 \u00fcber\n".encode() * 50)
    put("binary.bin", bytes([0]) + rng.randbytes(1 << 20))
    put("text/compressible.txt", (b"the quick brown fox jumps over the lazy dog %d\n" * 1) * 0 +
        b"".join(b"line %08d of a log that repeats a lot\n" % (i % 5000) for i in range(400000)))
    weights = b"".join(struct.pack("<f", rng.gauss(0, 0.02)) for _ in range(2 << 20))
    put("model.safetensors", weights)
    put("big/random.bin", rng.randbytes(70 << 20))
    return files


def run(cmd, env, check=True, stdin=None):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=stdin)
    if check and p.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(cmd[:3]), p.returncode, p.stderr.strip()[-2000:]))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubfs", required=True)
    ap.add_argument("--hubsim", required=True)
    ap.add_argument("--kit", default="")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hubfs-upload-")
    sim = None
    try:
        sim = Hubsim(args.hubsim, os.path.join(tmp, "data"), os.path.join(tmp, "hubsim.log"))
        env = dict(os.environ, HF_ENDPOINT=sim.url, HF_TOKEN=TOKEN,
                   HUBFS_CACHE_DIR=os.path.join(tmp, "cache"), HF_HOME=os.path.join(tmp, "hfhome"))
        env.pop("HF_HUB_OFFLINE", None)
        sim.request("POST", "/api/repos/create", json.dumps({"name": "up", "organization": "me",
                    "type": "model"}).encode(), headers={"Content-Type": "application/json"})
        src = os.path.join(tmp, "src")
        files = make_files(src)

        # --- one commit of the whole folder
        t0 = time.time()
        p = run([args.hubfs, "upload", "me/up", src, "-m", "first upload"], env)
        took = time.time() - t0
        out = p.stdout.split()
        if len(out) < 2 or len(out[0]) != 40 or "/commit/" not in out[1]:
            fail("upload printed %r" % p.stdout)
        commit = out[0]
        head = json.loads(sim.request("GET", "/api/models/me/up/revision/main"))["sha"]
        if head != commit:
            fail("main is %s, upload said %s" % (head, commit))
        n, b = sim.xorb_uploads()
        print("first upload: %.2f s, %d xorbs, %d bytes of xorbs" % (took, n, b))
        if n < 2:
            fail("expected the 70 MiB file to span at least two xorbs, got %d xorb uploads" % n)
        commits = json.loads(sim.request("GET", "/api/models/me/up/commits/main"))
        if commits[0]["title"] != "first upload":
            fail("commit title %r" % commits[0]["title"])

        # every file, three ways
        info = json.loads(sim.request(
            "POST", "/api/models/me/up/paths-info/main",
            json.dumps({"paths": sorted(files), "expand": False}).encode(),
            headers={"Content-Type": "application/json"}))
        by_path = {e["path"]: e for e in info}
        for rel, data in files.items():
            e = by_path.get(rel)
            if e is None or e["size"] != len(data):
                fail("paths-info for %s: %r" % (rel, e))
            quoted = urllib.request.quote(rel)
            got = sim.request("GET", "/me/up/resolve/main/" + quoted)
            if got != data:
                fail("resolve of %s differs (%d vs %d bytes)" % (rel, len(got), len(data)))
            cat = subprocess.run([args.hubfs, "cat", "me/up/" + rel], env=env, capture_output=True)
            if cat.returncode != 0 or cat.stdout != data:
                fail("hubfs cat %s: rc %d %s" % (rel, cat.returncode, cat.stderr[-500:]))
            if "lfs" in e:
                if e["lfs"]["oid"] != hashlib.sha256(data).hexdigest():
                    fail("lfs oid of %s" % rel)
                if not e.get("xetHash"):
                    fail("%s has no xetHash" % rel)
        lfs_paths = sorted(p for p in files if "lfs" in by_path[p])
        if "big/random.bin" not in lfs_paths or "binary.bin" not in lfs_paths:
            fail("expected LFS for the binaries, got %r" % lfs_paths)
        if "lfs" in by_path["empty.txt"] or "lfs" in by_path["README.md"]:
            fail("small text files must be inline")

        if args.kit:
            node = shutil.which("node") or fail("node not found")
            kenv = dict(env, HF_REPO="me/up")
            for rel in files:
                dst = os.path.join(tmp, "js.out")
                run([node, os.path.join(args.kit, "driver.mjs"), "download", rel, dst], kenv)
                with open(dst, "rb") as f:
                    if f.read() != files[rel]:
                        fail("JS client download of %s differs" % rel)
            for rel in lfs_paths:
                o = run([node, os.path.join(args.kit, "chunk.mjs"), os.path.join(src, rel),
                         "--no-chunks"], kenv)
                want = json.loads(o.stdout)["file_hash"]
                if by_path[rel]["xetHash"] != want:
                    fail("xetHash of %s is %s, the xet-core chunker says %s" %
                         (rel, by_path[rel]["xetHash"], want))
            print("JS client downloads and xet-core oracle hashes agree for %d files" % len(files))

        # --- the same folder again: nothing changes, nothing is sent
        n0, b0 = sim.xorb_uploads()
        p = run([args.hubfs, "upload", "me/up", src], env)
        if "nothing changed" not in p.stderr or p.stdout.strip() != commit:
            fail("re-upload: %r %r" % (p.stdout, p.stderr))
        n1, b1 = sim.xorb_uploads()
        if n1 != n0:
            fail("re-upload sent %d xorbs" % (n1 - n0))
        # to another path: a commit, still zero xorbs
        p = run([args.hubfs, "upload", "me/up", os.path.join(src, "big"), "copy"], env)
        n2, _ = sim.xorb_uploads()
        if n2 != n0:
            fail("upload of known data to a new path sent %d xorbs" % (n2 - n0))
        got = sim.request("GET", "/me/up/resolve/main/copy/random.bin")
        if got != files["big/random.bin"]:
            fail("copy/random.bin differs")
        # a fresh cache: only global dedup (the CAS's answers) helps
        fresh = dict(env, HUBFS_CACHE_DIR=os.path.join(tmp, "cache2"))
        p = run([args.hubfs, "upload", "me/up", os.path.join(src, "big"), "copy2"], fresh)
        n3, b3 = sim.xorb_uploads()
        print("known 70 MiB file from a fresh cache (global dedup only): %d xorbs, %d bytes" %
              (n3 - n2, b3 - b1))
        if n3 != n2:
            fail("the CAS's dedup answers alone should cover a file it holds; %d xorbs sent" %
                 (n3 - n2))

        # --- a 1 MiB edit in the middle of a 256 MiB file
        rng = random.Random(7)
        big = bytearray(b"".join(rng.randbytes(1 << 24) for _ in range(16)))
        with open(os.path.join(tmp, "big256.bin"), "wb") as f:
            f.write(big)
        t0 = time.time()
        run([args.hubfs, "upload", "me/up", os.path.join(tmp, "big256.bin"), "ckpt/w.bin"], env)
        first = time.time() - t0
        big[128 << 20:(128 << 20) + (1 << 20)] = rng.randbytes(1 << 20)
        with open(os.path.join(tmp, "big256.bin"), "wb") as f:
            f.write(big)
        na, ba = sim.xorb_uploads()
        t0 = time.time()
        run([args.hubfs, "upload", "me/up", os.path.join(tmp, "big256.bin"), "ckpt/w.bin"], env)
        second = time.time() - t0
        nb, bb = sim.xorb_uploads()
        print("256 MiB file: first upload %.2f s; after a 1 MiB edit %.2f s, %d xorbs, %d bytes"
              % (first, second, nb - na, bb - ba))
        if bb - ba > 3 << 20:
            fail("the 1 MiB edit sent %d bytes of xorbs" % (bb - ba))
        got = sim.request("GET", "/me/up/resolve/main/ckpt/w.bin")
        if hashlib.sha256(got).digest() != hashlib.sha256(big).digest():
            fail("edited file differs after upload")
        os.unlink(os.path.join(tmp, "big256.bin"))

        # --- a pull request, then a commit to it
        with open(os.path.join(tmp, "pr.txt"), "w") as f:
            f.write("proposed\n")
        p = run([args.hubfs, "upload", "me/up", os.path.join(tmp, "pr.txt"), "--create-pr"], env)
        lines = p.stdout.split()
        if len(lines) != 3 or not lines[2].endswith("/discussions/1"):
            fail("--create-pr printed %r" % p.stdout)
        with open(os.path.join(tmp, "pr.txt"), "w") as f:
            f.write("proposed, revised\n")
        run([args.hubfs, "upload", "me/up@refs/pr/1", os.path.join(tmp, "pr.txt")], env)
        got = sim.request("GET", "/me/up/resolve/refs%2Fpr%2F1/pr.txt")
        if got != b"proposed, revised\n":
            fail("refs/pr/1 has %r" % got)
        try:
            sim.request("GET", "/me/up/resolve/main/pr.txt")
            fail("pr.txt reached main")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise

        # --- --delete
        run([args.hubfs, "upload", "me/up", os.path.join(src, "README.md"), "copy/README.md",
             "--delete", "*.bin"], env)
        tree = json.loads(sim.request("GET", "/api/models/me/up/tree/main/copy"))
        names = sorted(e["path"] for e in tree)
        if names != ["copy/README.md"]:
            fail("after --delete copy/ holds %r" % names)

        # --- errors
        def expect_exit(code, cmd, e, what):
            r = subprocess.run(cmd, env=e, capture_output=True, text=True)
            if r.returncode != code:
                fail("%s: exit %d (want %d): %s" % (what, r.returncode, code, r.stderr))
            if "hubfs:" not in r.stderr and "usage:" not in r.stderr:
                fail("%s: no message" % what)
        readme = os.path.join(src, "README.md")
        expect_exit(3, [args.hubfs, "upload", "me/nope", readme], env, "missing repo")
        expect_exit(3, [args.hubfs, "upload", "me/up@nobranch", readme], env, "missing branch")
        expect_exit(4, [args.hubfs, "upload", "me/up", readme], dict(env, HF_TOKEN=READER),
                    "read-only user")
        noauth = dict(env)
        noauth.pop("HF_TOKEN")
        noauth["HF_TOKEN_PATH"] = os.path.join(tmp, "no-token")
        expect_exit(4, [args.hubfs, "upload", "me/up", readme], noauth, "no token")
        expect_exit(3, [args.hubfs, "upload", "me/up", os.path.join(tmp, "missing")], env,
                    "missing local file")
        expect_exit(2, [args.hubfs, "upload", "me/up"], env, "usage")
        print("upload_test: ok")
    finally:
        if sim:
            sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
