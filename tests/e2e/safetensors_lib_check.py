"""The safetensors library (numpy framework) loading weights from a mount.

usage (with the pinned venv's python):
  safetensors_lib_check.py write DIR      model.safetensors (several dtypes, metadata)
                                          and big.safetensors (BIG_MB MiB: two small
                                          tensors between large random ones), written
                                          with safetensors.numpy.save_file
  safetensors_lib_check.py check MNT      load_file and safe_open(framework="numpy")
                                          (keys, metadata, every tensor, a slice) of
                                          the mounted model.safetensors equal the arrays
                                          it was written from
  safetensors_lib_check.py selective MNT  safe_open of the mounted big.safetensors,
                                          get_tensor of the two small tensors only;
                                          prints the bytes that needed (header + both)
The arrays are regenerated from fixed seeds, so the checks compare with the
originals, not with a second read of the same file.
"""
import os
import struct
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

METADATA = {"format": "np", "source": "hubfs e2e"}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def model_tensors():
    rng = np.random.default_rng(17)
    return {
        "embed.weight": rng.standard_normal((2000, 256)).astype(np.float32),
        "layers.0.attn.q": rng.standard_normal((256, 256)).astype(np.float16),
        "layers.0.attn.bias": rng.standard_normal((256,)).astype(np.float64),
        "layers.0.mlp.up": rng.standard_normal((256, 1024)).astype(np.float32),
        "position_ids": np.arange(-50000, 50000, dtype=np.int64).reshape(100, 1000),
        "token_type": rng.integers(-2**31, 2**31 - 1, (333,), dtype=np.int32),
        "short": rng.integers(-2**15, 2**15, (77, 3), dtype=np.int16),
        "mask": rng.integers(0, 2, (17, 3), dtype=np.uint8).astype(np.bool_),
        "bytes": rng.integers(0, 256, (4097,), dtype=np.uint8),
        "quant": rng.integers(-128, 128, (4097,), dtype=np.int8),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def big_tensors(total_mb):
    rng = np.random.default_rng(23)
    half = max(1, total_mb // 2) << 20
    return {
        "a_small": rng.standard_normal((32, 32)).astype(np.float16),  # stored after b_big
        "b_big": np.frombuffer(rng.bytes(half), dtype=np.float32),
        "c_small": rng.integers(0, 1 << 40, (1000,), dtype=np.int64),
        "d_big": np.frombuffer(rng.bytes(half), dtype=np.float16),
    }


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def check(mnt):
    path = os.path.join(mnt, "model.safetensors")
    want = model_tensors()
    got = load_file(path)
    if sorted(got) != sorted(want):
        fail(f"load_file keys {sorted(got)}")
    for name, a in want.items():
        if not same(got[name], a):
            fail(f"load_file: tensor {name} differs ({got[name].dtype} {got[name].shape})")
    del got
    with safe_open(path, framework="numpy") as f:
        if sorted(f.keys()) != sorted(want):
            fail(f"safe_open keys {sorted(f.keys())}")
        if f.metadata() != METADATA:
            fail(f"metadata {f.metadata()}")
        for name in reversed(list(want)):  # not in file order
            if not same(f.get_tensor(name), want[name]):
                fail(f"safe_open: tensor {name} differs")
        part = f.get_slice("embed.weight")[1500:1600, 10:20]
        if not np.array_equal(part, want["embed.weight"][1500:1600, 10:20]):
            fail("get_slice of embed.weight differs")
    print(f"ok: load_file and safe_open(framework='numpy'): {len(want)} tensors")


def selective(mnt):
    path = os.path.join(mnt, "big.safetensors")
    want = big_tensors(int(os.environ.get("BIG_MB", "64")))
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
    needed = 8 + header_len
    with safe_open(path, framework="numpy") as f:
        if sorted(f.keys()) != sorted(want):
            fail(f"keys {sorted(f.keys())}")
        for name in ("a_small", "c_small"):
            t = f.get_tensor(name)
            if not same(t, want[name]):
                fail(f"tensor {name} differs")
            needed += t.nbytes
    print(needed)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check", "selective"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "write":
        save_file(model_tensors(), os.path.join(d, "model.safetensors"), metadata=METADATA)
        save_file(big_tensors(int(os.environ.get("BIG_MB", "64"))),
                  os.path.join(d, "big.safetensors"), metadata=METADATA)
    elif cmd == "check":
        check(d)
    else:
        selective(d)


if __name__ == "__main__":
    main()
