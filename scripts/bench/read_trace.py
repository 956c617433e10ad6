#!/usr/bin/env python3
"""Reads FILE sequentially in 1 MiB blocks and discards the bytes, as
`dd bs=1M of=/dev/null` does (used by scripts/bench.sh for every sequential
read, so the mount and its baselines are read alike).

  read_trace.py FILE [TRACE]

With TRACE, writes "<seconds since open> <bytes read so far>" lines to it, one
about every 100 ms and the last, for the throughput-over-time plot. The
trace is written after the read, from memory, so it costs no I/O on the way.
Prints nothing; exits non-zero on a read error.
"""
import sys
import time

BLOCK = 1 << 20
INTERVAL_S = 0.1


def read(path, trace):
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    total = 0
    t0 = time.monotonic()
    last = t0
    with open(path, "rb", buffering=0) as f:
        trace.append((0.0, 0))
        while True:
            n = f.readinto(view)
            if not n:
                break
            total += n
            now = time.monotonic()
            if now - last >= INTERVAL_S:
                trace.append((now - t0, total))
                last = now
    # A tail much shorter than the interval gives a rate of a few blocks over
    # a millisecond or so, noise on the plot: it joins the interval before.
    end = time.monotonic() - t0
    if len(trace) > 1 and end - trace[-1][0] < INTERVAL_S / 2:
        trace.pop()
    trace.append((end, total))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    trace = []
    read(sys.argv[1], trace)
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w") as out:
            out.writelines(f"{t:.4f} {b}\n" for t, b in trace)


if __name__ == "__main__":
    main()
