"""A model loader over mmap, as inference servers load safetensors: every
tensor (or a tensor-parallel slice of each) in the model's parameter order,
which is not the file's order.

usage:
  tensor_load.py write DIR LAYERS HIDDEN [VOCAB]
      writes DIR/model.safetensors: an embedding (VOCAB x HIDDEN; VOCAB
      defaults to 8 HIDDEN), LAYERS transformer blocks (attention q/k/v/o
      HIDDEN x HIDDEN, MLP gate/up/down HIDDEN x 2.75 HIDDEN, two norms), a
      final norm and an output head; f16 random data (seed 3).
      Tensors lie in the file in name order, as the safetensors library
      writes them (so layers.10 comes before layers.2).
  tensor_load.py load FILE [--seed N] [--slice RANK/WAYS] [--against SRC] [--random 1]
                          [--threads N] [--stop N]
      maps FILE and copies out every tensor in a shuffled parameter order
      (seeded; default 1), or with --slice only rows [RANK/WAYS, (RANK+1)/WAYS)
      of each tensor with at least WAYS rows (smaller ones whole: norms are
      replicated). --against SRC compares each copied piece with the same
      bytes of SRC. --random 1 maps with MADV_RANDOM: no kernel read-around,
      so what the filesystem fetches beyond the bytes needed is its own
      read-ahead. --threads N: N threads take the tensors in that order, as
      parallel loaders do (numpy copies without the GIL). --stop N: only the
      first N tensors of that order, then the file is closed (a loader that
      fails or is stopped part way). Prints JSON: seconds, bytes_needed (the header and the
      bytes copied), tensors.
Run with /usr/bin/python3 (Debian's numpy).
"""
import json
import mmap
import os
import random
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_check import parse, write_safetensors  # noqa: E402


def model_params(layers, hidden, vocab):
    """(name, shape) in the model's parameter order."""
    ffn = hidden * 11 // 4
    out = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (hidden,))]
        out += [(p + f"self_attn.{x}_proj.weight", (hidden, hidden)) for x in "qkvo"]
        out += [(p + "post_attention_layernorm.weight", (hidden,))]
        out += [(p + "mlp.gate_proj.weight", (ffn, hidden)), (p + "mlp.up_proj.weight", (ffn, hidden)),
                (p + "mlp.down_proj.weight", (hidden, ffn))]
    out += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]
    return out


def write(d, layers, hidden, vocab):
    rng = np.random.default_rng(3)
    tensors = {}
    for name, shape in sorted(model_params(layers, hidden, vocab)):
        n = int(np.prod(shape))
        tensors[name] = np.frombuffer(rng.bytes(2 * n), dtype=np.float16).reshape(shape)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)


def load(path, seed, slice_spec, against, random_access, threads, stop=None):
    t0 = time.monotonic()
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if random_access:
            m.madvise(mmap.MADV_RANDOM)
        entries, base = parse(m)
        src = None
        if against:
            sf = open(against, "rb")
            src = mmap.mmap(sf.fileno(), 0, access=mmap.ACCESS_READ)
        # Parameter order: the names sorted naturally (layers.2 before
        # layers.10), then shuffled with the seed, as loaders that fan tensors
        # out to workers see them.
        names = sorted(entries, key=lambda s: [int(t) if t.isdigit() else t for t in s.split(".")])
        random.Random(seed).shuffle(names)
        if stop is not None:
            names = names[:stop]
        view = np.frombuffer(m, dtype=np.uint8)

        def one(name):
            dtype, shape, begin, end = entries[name]
            lo, hi = 0, end - begin
            if slice_spec and len(shape) >= 1 and shape[0] >= slice_spec[1]:
                rank, ways = slice_spec
                row = (end - begin) // shape[0]
                lo = shape[0] * rank // ways * row
                hi = shape[0] * (rank + 1) // ways * row
            # A copy touches every byte, as a copy to the device would.
            piece = view[base + begin + lo:base + begin + hi].copy()
            if src is not None and piece.tobytes() != src[base + begin + lo:base + begin + hi]:
                return f"tensor {name} bytes [{lo}, {hi}) differ"
            return hi - lo

        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(one, names))
        else:
            results = [one(name) for name in names]
        bad = [r for r in results if isinstance(r, str)]
        if bad:
            print("FAIL: " + bad[0], file=sys.stderr)
            sys.exit(1)
        needed = base + sum(results)
        del view, entries
        m.close()
    print(json.dumps({"seconds": time.monotonic() - t0, "bytes_needed": needed,
                      "tensors": len(results)}))


def main():
    args = sys.argv[1:]
    if len(args) in (4, 5) and args[0] == "write":
        hidden = int(args[3])
        write(args[1], int(args[2]), hidden, int(args[4]) if len(args) == 5 else 8 * hidden)
        return
    if len(args) >= 2 and args[0] == "load":
        seed, slice_spec, against, random_access, threads, stop = 1, None, None, False, 1, None
        rest = args[2:]
        while rest:
            flag, value = rest[0], rest[1] if len(rest) > 1 else ""
            if flag == "--seed":
                seed = int(value)
            elif flag == "--slice":
                r, w = value.split("/")
                slice_spec = (int(r), int(w))
            elif flag == "--against":
                against = value
            elif flag == "--random":
                random_access = value == "1"
            elif flag == "--threads":
                threads = int(value)
            elif flag == "--stop":
                stop = int(value)
            else:
                break
            rest = rest[2:]
        if not rest:
            load(args[1], seed, slice_spec, against, random_access, threads, stop)
            return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
