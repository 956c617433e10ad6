"""Files written by the official Python client through hf_xet, for the mount tests.

usage (with the pinned venv's python; HF_ENDPOINT set to hubsim):
  hf_xet_files.py gen DIR                 random data of several sizes (BIG_MB env:
                                          one more file of that many MiB, 0 = none;
                                          over 64 it must span two xorbs),
                                          a text file, nested and non-ASCII names
  hf_xet_files.py upload DIR REPO TOKEN   create_repo + upload_folder (one commit);
                                          fails unless xorbs and a shard reached the
                                          CAS and no classic LFS upload happened, and
                                          every LFS file has a xetHash
  hf_xet_files.py ranges DIR FILE N       N random ranges START-END of FILE (seeded),
                                          one per line, ends included
"""
import json
import os
import random
import sys
import urllib.request


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def gen(d):
    rng = random.Random(42)
    files = {
        "random-6m.bin": rng.randbytes(6 << 20),
        "odd/random-1m-plus.bin": rng.randbytes((1 << 20) + 12345),
        "small.bin": b"\0" + rng.randbytes(70_000),
        "notes.txt": "".join(f"line {i}: ünïcödé, {rng.random()}\n" for i in range(20000)).encode(),
        "dir/ü space/readme.md": b"# nested\n",
        # Repeats: compressible chunks, and chunks shared with random-6m.bin.
        "mixed.bin": b"\0" * (1 << 20) + rng.randbytes(1 << 20) + (b"abcd" * (1 << 18)),
    }
    big = int(os.environ.get("BIG_MB", "0"))
    if big:
        files["big.bin"] = rng.randbytes(big << 20)
    for p, b in files.items():
        path = os.path.join(d, p)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b)


def counters(ep):
    with urllib.request.urlopen(ep + "/admin/counters", timeout=30) as r:
        return json.load(r)


def upload(d, repo, token):
    from huggingface_hub import HfApi
    ep = os.environ["HF_ENDPOINT"]
    api = HfApi(endpoint=ep, token=token)
    api.create_repo(repo, exist_ok=True)
    before = counters(ep)
    info = api.upload_folder(folder_path=d, repo_id=repo, commit_message="upload through hf_xet")
    after = counters(ep)

    def delta(origin, route):
        a = after.get(origin, {}).get(route, {}).get("requests", 0)
        return a - before.get(origin, {}).get(route, {}).get("requests", 0)

    xorbs, shards = delta("cas", "xorb-upload"), delta("cas", "shard-upload")
    if xorbs < 1 or shards < 1:
        fail(f"hf_xet sent {xorbs} xorbs and {shards} shards")
    if int(os.environ.get("BIG_MB", "0")) > 64 and xorbs < 2:
        fail(f"a file over 64 MiB went into {xorbs} xorb")
    if delta("hub", "lfs-put") or delta("hub", "lfs-batch"):
        fail("the upload fell back to classic LFS")
    lfs = [f for f in api.list_repo_tree(repo, recursive=True) if getattr(f, "lfs", None)]
    if not lfs or any(not f.xet_hash for f in lfs):
        fail("LFS files without xetHash")
    print(f"uploaded {info.oid}: {xorbs} xorbs, {shards} shards, {len(lfs)} Xet files")


def ranges(d, name, n):
    size = os.path.getsize(os.path.join(d, name))
    rng = random.Random(name)
    out = [(0, 0), (size - 1, size - 1), (0, size - 1)]
    while len(out) < n:
        a = rng.randrange(size)
        out.append((a, min(size - 1, a + rng.choice([0, 1, 100, 65536, 1 << 20, rng.randrange(3 << 20)]))))
    for a, b in out:
        print(f"{a} {b}")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen" and len(sys.argv) == 3:
        gen(sys.argv[2])
    elif cmd == "upload" and len(sys.argv) == 5:
        upload(*sys.argv[2:])
    elif cmd == "ranges" and len(sys.argv) == 5:
        ranges(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
