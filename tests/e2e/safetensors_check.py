"""A small safetensors reader over mmap, checked through the mount.

usage:
  safetensors_check.py write DIR           writes model.safetensors (tensors of
                                           several dtypes), arrays.npy and
                                           big.safetensors (BIG_MB MiB, env)
  safetensors_check.py check MNT           every tensor of model.safetensors
                                           from one mmap of the mounted file,
                                           and np.load(mmap_mode="r") of the .npy,
                                           equal the arrays they were made from
  safetensors_check.py selective MNT       reads the header and the two small
                                           tensors of big.safetensors from an mmap;
                                           prints the bytes that needed
The arrays are regenerated from fixed seeds, so the check compares with the
originals, not with a second read of the same file. Run with /usr/bin/python3
(Debian's numpy).
"""
import json
import mmap
import os
import struct
import sys

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def model_tensors():
    rng = np.random.default_rng(7)
    return {
        "embed.weight": rng.standard_normal((1000, 256)).astype(np.float32),
        "layer0.attn.q": rng.standard_normal((256, 256)).astype(np.float16),
        "layer0.attn.bias": rng.standard_normal((256,)).astype(np.float64),
        "position_ids": np.arange(-5000, 5000, dtype=np.int64).reshape(10, 1000),
        "token_type": rng.integers(-2**31, 2**31 - 1, (333,), dtype=np.int32),
        "mask": rng.integers(0, 2, (17, 3), dtype=np.uint8).astype(np.bool_),
        "quant": rng.integers(-128, 128, (4097,), dtype=np.int8),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def big_tensors(total_mb):
    # Two small tensors far apart (one right after the header, one in the
    # middle) between large random ones, which a selective reader must not fetch.
    rng = np.random.default_rng(11)
    half = max(1, total_mb // 2) << 20
    return {
        "small_a": rng.standard_normal((32, 32)).astype(np.float32),
        "big_1": np.frombuffer(rng.bytes(half), dtype=np.float32),
        "small_b": rng.integers(0, 1 << 40, (1000,), dtype=np.int64),
        "big_2": np.frombuffer(rng.bytes(half), dtype=np.float16),
    }


def write_safetensors(path, tensors):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, a in tensors.items():  # insertion order = data order
        header[name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a).tobytes())


def parse(m):
    """Header of a safetensors mapping: ({name: (dtype, shape, begin, end)}, data start)."""
    (n,) = struct.unpack_from("<Q", m, 0)
    if n > len(m) - 8 or n > 100 << 20:
        fail(f"header length {n} out of range")
    header = json.loads(bytes(m[8:8 + n]))
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        out[name] = (DTYPES[v["dtype"]], tuple(v["shape"]), *v["data_offsets"])
    return out, 8 + n


def tensor(m, entry, base):
    dtype, shape, begin, end = entry
    count = (end - begin) // np.dtype(dtype).itemsize
    return np.frombuffer(m, dtype=dtype, count=count, offset=base + begin).reshape(shape)


def check(mnt):
    want = model_tensors()
    with open(os.path.join(mnt, "model.safetensors"), "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        entries, base = parse(m)
        if sorted(entries) != sorted(want):
            fail(f"tensor names {sorted(entries)}")
        for name, a in want.items():
            got = tensor(m, entries[name], base)
            if got.dtype != a.dtype or got.shape != a.shape or not np.array_equal(got, a):
                fail(f"tensor {name} differs ({got.dtype} {got.shape})")
            del got
        del entries
        m.close()
    npy = np.load(os.path.join(mnt, "arrays.npy"), mmap_mode="r")
    if not isinstance(npy, np.memmap) or not np.array_equal(npy, npy_array()):
        fail("np.load(mmap_mode='r') of arrays.npy differs")
    del npy
    print(f"ok: {len(want)} safetensors tensors over mmap, np.load(mmap_mode='r')")


def npy_array():
    return np.random.default_rng(5).standard_normal((300, 500)).astype(np.float32)


def selective(mnt):
    want = big_tensors(int(os.environ.get("BIG_MB", "96")))
    with open(os.path.join(mnt, "big.safetensors"), "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        entries, base = parse(m)
        needed = base
        for name in ("small_a", "small_b"):
            got = tensor(m, entries[name], base)
            if not np.array_equal(got, want[name]):
                fail(f"tensor {name} differs")
            needed += got.nbytes
            del got
        del entries
        m.close()
    print(needed)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check", "selective"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "write":
        write_safetensors(os.path.join(d, "model.safetensors"), model_tensors())
        np.save(os.path.join(d, "arrays.npy"), npy_array())
        write_safetensors(os.path.join(d, "big.safetensors"),
                          big_tensors(int(os.environ.get("BIG_MB", "96"))))
    elif cmd == "check":
        check(d)
    else:
        selective(d)


if __name__ == "__main__":
    main()
