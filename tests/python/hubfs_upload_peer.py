"""Files uploaded by `hubfs upload` read back with the official Python client.

Run with the pinned venv's python under tests/conformance/with_hubsim.sh
(HUBSIM_URL; a user me:hf_test):
  hubfs_upload_peer.py HUBFS_BIN

- A folder of 0-byte, small text, non-ASCII nested, binary, compressible,
  float-weight and random files goes up with `hubfs upload` (one commit); each
  file downloads byte-identical with hf_hub_download (through hf_xet) and reads
  byte-identical through HfFileSystem (whole and a ranged read), and the
  xetHash that paths-info reports equals hf_xet's own hash of the local file.
- A file uploaded first through hf_xet, then by `hubfs upload` with a fresh
  cache (so only the CAS's global-dedup answers help), sends no xorb bytes.
Exits non-zero with a FAIL line on the first mismatch.
"""
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request

HUB = os.environ["HUBSIM_URL"]
TOKEN = "hf_test"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def counters():
    with urllib.request.urlopen(HUB + "/admin/counters", timeout=30) as r:
        return json.load(r)


def xorb_bytes(before, after):
    def get(c):
        return c.get("cas", {}).get("xorb-upload", {}).get("bytes_in", 0)
    return get(after) - get(before)


def files():
    rng = random.Random(2026)
    floats = struct.pack("<%df" % (1 << 20), *(rng.gauss(0, 0.02) for _ in range(1 << 20)))
    return {
        "empty.txt": b"",
        "README.md": b"# uploaded by hubfs\n",
        "dir/ünï cödé/notes.txt": "".join(f"{i} ünïcödé\n" for i in range(5000)).encode(),
        "small.bin": b"\0\1\2" + rng.randbytes(5000),
        "random.bin": rng.randbytes(3 << 20),
        "compressible.bin": b"\0" + (b"0123456789abcdef" * (1 << 17)),
        "weights/model.bin": floats,
    }


def main():
    work = tempfile.mkdtemp(prefix="hubfs-peer.")
    try:
        run(sys.argv[1], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(hubfs, work):
    os.environ.update(HF_ENDPOINT=HUB, HF_HOME=os.path.join(work, "hf_home"),
                      HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    for k in ("HF_TOKEN", "HF_HUB_DISABLE_XET", "HF_HUB_OFFLINE"):
        os.environ.pop(k, None)
    import hf_xet
    from huggingface_hub import HfApi, HfFileSystem, hf_hub_download

    api = HfApi(endpoint=HUB, token=TOKEN)
    repo = "me/hubfs-upload"
    api.create_repo(repo)
    src = os.path.join(work, "src")
    data = files()
    for p, b in data.items():
        os.makedirs(os.path.dirname(os.path.join(src, p)), exist_ok=True)
        with open(os.path.join(src, p), "wb") as f:
            f.write(b)

    def hubfs_upload(*args, cache):
        env = dict(os.environ, HF_TOKEN=TOKEN)
        r = subprocess.run([hubfs, "upload", *args, "--cache-dir", cache, "--quiet"], env=env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            fail(f"hubfs upload {args}: exit {r.returncode}: {r.stderr}")
        return r.stdout

    out = hubfs_upload(repo, src, "-m", "from hubfs", cache=os.path.join(work, "cache1"))
    sha = api.model_info(repo).sha
    if sha not in out:
        fail(f"hubfs upload printed {out!r}, the head is {sha}")

    fs = HfFileSystem(endpoint=HUB, token=TOKEN, skip_instance_cache=True)
    paths = {p: i for i, p in enumerate(data)}
    infos = {e.path: e for e in api.get_paths_info(repo, list(paths))}
    local_hashes = {p: h.hash for p, h in zip(
        data, hf_xet.hash_files([os.path.join(src, p) for p in data]))}
    for p, b in data.items():
        got = open(hf_hub_download(repo, p, token=TOKEN), "rb").read()
        if got != b:
            fail(f"hf_hub_download {p} differs")
        if fs.cat_file(f"{repo}/{p}") != b:
            fail(f"HfFileSystem read of {p} differs")
        if len(b) > 10:
            with fs.open(f"{repo}/{p}", "rb", block_size=4096) as f:
                f.seek(len(b) // 3)
                if f.read(1000) != b[len(b) // 3:len(b) // 3 + 1000]:
                    fail(f"HfFileSystem ranged read of {p} differs")
        e = infos.get(p)
        if e is None or e.size != len(b):
            fail(f"paths-info of {p}: {e}")
        if e.lfs is not None:
            if e.lfs.sha256 != hashlib.sha256(b).hexdigest():
                fail(f"sha256 of {p}")
            if e.xet_hash != local_hashes[p]:
                fail(f"xetHash of {p}: hubfs {e.xet_hash}, hf_xet {local_hashes[p]}")
    lfs = sorted(p for p, e in infos.items() if e.lfs is not None)
    print(f"ok: {len(data)} files uploaded by hubfs read back with hf_hub_download and "
          f"HfFileSystem; xetHash = hf_xet's for {lfs}")

    # hf_xet first, then hubfs with a fresh cache: global dedup only.
    known = random.Random(7).randbytes(6 << 20)
    api.upload_file(path_or_fileobj=known, path_in_repo="by-hf-xet.bin", repo_id=repo)
    path = os.path.join(work, "known.bin")
    with open(path, "wb") as f:
        f.write(known)
    before = counters()
    hubfs_upload(repo, path, "by-hubfs.bin", cache=os.path.join(work, "cache2"))
    sent = xorb_bytes(before, counters())
    if sent != 0:
        fail(f"hubfs sent {sent} xorb bytes for a file hf_xet had uploaded")
    a, b = api.get_paths_info(repo, ["by-hf-xet.bin", "by-hubfs.bin"])
    if a.xet_hash != b.xet_hash:
        fail("the same bytes got two xet hashes")
    print("ok: a file uploaded by hf_xet, then by hubfs from a fresh cache: 0 xorb bytes sent")


if __name__ == "__main__":
    main()
