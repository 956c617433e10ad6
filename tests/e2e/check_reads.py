"""Compares a mounted tree with its source folder: random pread ranges, mmap
reads (numpy over a shared mapping, several threads), xattrs.

usage: check_reads.py SRC MNT XET_FILE
Run with /usr/bin/python3 (Debian's numpy). Exits non-zero on a mismatch.
"""
import mmap
import os
import random
import sys
import threading

import numpy as np


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    src, mnt, xet_file = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = random.Random(1234)
    a_path, b_path = os.path.join(src, xet_file), os.path.join(mnt, xet_file)
    size = os.path.getsize(a_path)
    if os.path.getsize(b_path) != size:
        fail("size differs")
    with open(a_path, "rb") as a:
        want = a.read()

    # Random pread ranges, including ones that run past the end.
    fd = os.open(b_path, os.O_RDONLY)
    try:
        for _ in range(200):
            off = rng.randrange(0, size + 10)
            n = rng.choice([1, 7, 4096, 65536, 1 << 20, rng.randrange(1, 3 << 20)])
            got = os.pread(fd, n, off)
            if got != want[off:off + n]:
                fail(f"pread({off}, {n}) differs")
    finally:
        os.close(fd)

    # One shared mapping read by several threads at random pages, then whole.
    with open(b_path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        arr = np.frombuffer(m, dtype=np.uint8)
        ref = np.frombuffer(want, dtype=np.uint8)
        errors = []

        def worker(seed):
            r = random.Random(seed)
            for _ in range(100):
                off = r.randrange(0, size)
                n = r.randrange(1, 200000)
                if not np.array_equal(arr[off:off + n], ref[off:off + n]):
                    errors.append((off, n))

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            fail(f"mmap ranges differ: {errors[:3]}")
        if not np.array_equal(arr, ref):
            fail("whole mmap differs")
        del arr
        m.close()

    # xattrs
    names = os.listxattr(b_path)
    for n in ("user.hf.commit", "user.hf.etag", "user.hf.xet_hash", "user.hf.lfs"):
        if n not in names:
            fail(f"{n} not listed on {xet_file}: {names}")
    xh = os.getxattr(b_path, "user.hf.xet_hash").decode()
    if len(xh) != 64:
        fail(f"user.hf.xet_hash malformed: {xh!r}")
    commit = os.getxattr(b_path, "user.hf.commit").decode()
    if len(commit) != 40:
        fail(f"user.hf.commit malformed: {commit!r}")
    import hashlib
    if os.getxattr(b_path, "user.hf.etag").decode() != hashlib.sha256(want).hexdigest():
        fail("user.hf.etag is not the sha256 of an LFS file")
    try:
        os.getxattr(b_path, "user.hf.nope")
        fail("unknown xattr answered")
    except OSError as e:
        if e.errno != 61:  # ENODATA
            fail(f"unknown xattr: errno {e.errno}")
    # Other namespaces are not supported at all (ENOTSUP, so that ls -l stops
    # asking every file), and answering so must not cost the user.hf.* names.
    import errno
    for n in ("security.selinux", "system.posix_acl_access", "trusted.x"):
        try:
            os.getxattr(b_path, n)
            fail(f"{n} answered")
        except OSError as e:
            if e.errno != errno.ENOTSUP:
                fail(f"{n}: errno {e.errno}, want ENOTSUP")
    if os.getxattr(b_path, "user.hf.commit").decode() != commit:
        fail("user.hf.commit lost after an unsupported name")
    print("ok: pread, mmap (8 threads), xattrs")


if __name__ == "__main__":
    main()
