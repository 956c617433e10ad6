"""16 threads reading one mounted file at once; each region's sha256 must equal
the source's.

usage: threads_check.py SRC_FILE MNT_FILE MODE
  disjoint   16 threads pread 16 adjacent regions covering the file, in
             reads of varying sizes
  overlap    16 threads pread regions that overlap their neighbours' by half,
             from varying starting points, some backwards
  mmap       16 threads over ONE shared mapping: the overlapping regions,
             hashed straight from the mapping (page faults from all threads)
Run with /usr/bin/python3.
"""
import hashlib
import mmap
import os
import random
import sys
import threading

THREADS = 16


def regions(size, mode):
    if mode == "disjoint":
        step = -(-size // THREADS)
        return [(i * step, min(size, (i + 1) * step)) for i in range(THREADS)]
    # Each region is twice the stride long: every byte is read by two threads.
    step = size // (THREADS + 1)
    return [(i * step, min(size, (i + 2) * step) if i < THREADS - 1 else size)
            for i in range(THREADS)]


def read_region(fd, a, b, seed):
    r = random.Random(seed)
    pieces = []
    off = a
    while off < b:
        n = min(b - off, r.choice([4096, 65536, 131072, 1 << 20, r.randrange(1, 3 << 20)]))
        pieces.append((off, n))
        off += n
    if seed % 3 == 0:
        pieces.reverse()  # backwards: every read is a seek
    got = {}
    for off, n in pieces:
        data = os.pread(fd, n, off)
        if len(data) != n:
            raise IOError(f"short pread({off}, {n}): {len(data)}")
        got[off] = data
    h = hashlib.sha256()
    for off in sorted(got):
        h.update(got[off])
    return h.hexdigest()


def main():
    src, mnt, mode = sys.argv[1:4]
    size = os.path.getsize(src)
    if os.path.getsize(mnt) != size:
        sys.exit("FAIL: size differs")
    regs = regions(size, mode)
    want = []
    with open(src, "rb") as f:
        for a, b in regs:
            f.seek(a)
            want.append(hashlib.sha256(f.read(b - a)).hexdigest())
    got = [None] * THREADS
    errors = []
    barrier = threading.Barrier(THREADS)
    fd = os.open(mnt, os.O_RDONLY)
    f = open(mnt, "rb")
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if mode == "mmap" else None

    def work(i):
        a, b = regs[i]
        try:
            barrier.wait()
            if m is not None:
                view = memoryview(m)[a:b]
                h = hashlib.sha256()
                # In slices so several threads fault pages at once.
                for off in range(0, b - a, 1 << 20):
                    h.update(view[off:off + (1 << 20)])
                view.release()
                got[i] = h.hexdigest()
            else:
                got[i] = read_region(fd, a, b, i)
        except Exception as e:  # reported below with the region
            errors.append(f"thread {i} [{a}, {b}): {e!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if m is not None:
        m.close()
    f.close()
    os.close(fd)
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    bad = [f"[{a}, {b})" for (a, b), w, g in zip(regs, want, got) if w != g]
    if bad:
        sys.exit(f"FAIL: {mode}: {len(bad)} of {THREADS} regions differ: {', '.join(bad[:4])}")
    print(f"ok: {mode}: {THREADS} threads, {THREADS} regions equal")


if __name__ == "__main__":
    main()
