#!/usr/bin/python3
"""`hubfs xet hash --json` against the official xet-core chunker.

Generates fresh inputs (random sizes and contents from a printed seed; set
XET_HASH_SEED to replay one), hashes them all with one `hubfs xet hash --json`
call and with one `node xet_oracle.mjs FILE...` call (tests/js/xet_oracle.mjs:
xet-core compiled to WASM, as the @huggingface/hub package ships it), and
compares size, sha256, file hash and every chunk (offset, length, hash).

usage: xet_hash_oracle_test.py --hubfs BIN --conformance DIR
  DIR is the JS test kit: tests/js with its pinned node_modules installed
  (scripts/setup-conformance.sh).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

KIB = 1024
MIB = 1024 * 1024


def gen_inputs(rng):
    """Returns [(name, bytes)]: edge sizes, random data and low-entropy data."""
    rand = lambda n: rng.randbytes(n)
    files = [
        ("empty", b""),
        ("one_byte", rand(1)),
        ("small_random", rand(rng.randrange(2, 8 * KIB))),
        ("small_random_2", rand(rng.randrange(100, 8 * KIB))),
        ("min_minus_1", rand(8191)),
        ("min", rand(8192)),
        ("min_plus_1", rand(8193)),
        ("exact_64k", rand(64 * KIB)),
        ("exact_128k", rand(128 * KIB)),
        ("exact_64k_x7", rand(7 * 64 * KIB)),
        ("exact_64k_x" + str(m := rng.randrange(20, 60)), rand(m * 64 * KIB)),
        ("random_medium", rand(rng.randrange(200 * KIB, 3 * MIB))),
        ("random_10mb", rand(rng.randrange(9 * MIB + 512 * KIB, 10 * MIB + 512 * KIB))),
        ("zeros", bytes(rng.randrange(300 * KIB, 2 * MIB))),
        ("zeros_exact_1m", bytes(MIB)),
        ("const_ff", b"\xff" * rng.randrange(200 * KIB, 700 * KIB)),
    ]
    # Repeated short patterns (period 1..200 bytes).
    for k in range(3):
        period = rng.choice([2, 3, 7, 64, 65, rng.randrange(1, 200)])
        pat = rand(period)
        n = rng.randrange(300 * KIB, 2 * MIB)
        files.append((f"pattern_p{period}_{k}", (pat * (n // period + 1))[:n]))
    # Text-like: words from a small vocabulary, lines, some numbers.
    words = [rand(rng.randrange(2, 9)).hex()[: rng.randrange(2, 12)] for _ in range(300)]
    words += ["the", "of", "and", "tensor", "weight", "layer", "{", "}", "\"name\":", "0.0"]
    out, size, target = [], 0, rng.randrange(500 * KIB, 3 * MIB)
    while size < target:
        line = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 16))) + "\n"
        out.append(line)
        size += len(line)
    files.append(("text_like", "".join(out).encode()))
    # Sparse: long zero runs with a few random islands (like a sparse disk image).
    n = rng.randrange(2 * MIB, 6 * MIB)
    sparse = bytearray(n)
    for _ in range(rng.randrange(3, 40)):
        at = rng.randrange(0, n)
        island = rand(rng.randrange(1, 20000))
        sparse[at : at + len(island)] = island[: n - at]
    files.append(("sparse", bytes(sparse)))
    # Random data with planted zero runs longer than MAX (131072).
    mixed = bytearray(rand(rng.randrange(1 * MIB, 3 * MIB)))
    for _ in range(3):
        at = rng.randrange(0, len(mixed))
        run = rng.randrange(140 * KIB, 400 * KIB)
        mixed[at : at + run] = bytes(min(run, len(mixed) - at))
    files.append(("random_with_zero_runs", bytes(mixed)))
    return files


def run_oracle(conformance, paths):
    """The oracle's answers for the files, in order."""
    r = subprocess.run(
        ["node", os.path.join(conformance, "xet_oracle.mjs")] + paths,
        cwd=conformance, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"xet_oracle.mjs failed ({r.returncode}): {r.stderr.strip()}")
    answers = [json.loads(l) for l in r.stdout.splitlines()]
    if len(answers) != len(paths):
        raise RuntimeError(f"xet_oracle.mjs gave {len(answers)} answers for {len(paths)} files")
    return answers


def compare(name, ours, oracle):
    """Returns a list of differences (empty when equal)."""
    diffs = []
    for key in ("size", "sha256", "file_hash"):
        if ours.get(key) != oracle.get(key):
            diffs.append(f"{key}: hubfs {ours.get(key)!r} oracle {oracle.get(key)!r}")
    oc = [{"offset": c["offset"], "length": c["length"], "hash": c["hash"]} for c in oracle["chunks"]]
    hc = ours.get("chunks", [])
    if len(oc) != len(hc):
        diffs.append(f"chunk count: hubfs {len(hc)} oracle {len(oc)}")
    for i, (a, b) in enumerate(zip(hc, oc)):
        if a != b:
            diffs.append(f"first differing chunk {i}: hubfs {a} oracle {b}")
            break
    return [f"{name}: {d}" for d in diffs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubfs", required=True)
    ap.add_argument("--conformance", required=True)
    args = ap.parse_args()
    args.conformance = os.path.abspath(args.conformance)
    args.hubfs = os.path.abspath(args.hubfs)

    oracle_mjs = os.path.join(args.conformance, "xet_oracle.mjs")
    hub_pkg = os.path.join(args.conformance, "node_modules", "@huggingface", "hub")
    if not os.path.isfile(oracle_mjs) or not os.path.isdir(hub_pkg):
        print(f"FAIL: the oracle is not set up in {args.conformance} (xet_oracle.mjs and "
              "node_modules/@huggingface/hub are needed): run scripts/setup-conformance.sh",
              file=sys.stderr)
        return 1

    seed = int(os.environ.get("XET_HASH_SEED", random.SystemRandom().randrange(2**32)))
    print(f"seed {seed} (replay with XET_HASH_SEED={seed})", flush=True)
    rng = random.Random(seed)

    failures = []
    with tempfile.TemporaryDirectory(prefix="xet-hash-oracle-") as tmp:
        paths = []
        for name, data in gen_inputs(rng):
            p = os.path.join(tmp, name + ".bin")
            with open(p, "wb") as f:
                f.write(data)
            paths.append((name, p, len(data)))

        r = subprocess.run([args.hubfs, "xet", "hash", "--json"] + [p for _, p, _ in paths],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            print(f"FAIL: hubfs exited {r.returncode}: {r.stderr}", file=sys.stderr)
            return 1
        lines = r.stdout.splitlines()
        if len(lines) != len(paths):
            print(f"FAIL: {len(lines)} output lines for {len(paths)} files", file=sys.stderr)
            return 1
        ours = [json.loads(l) for l in lines]

        oracles = run_oracle(args.conformance, [p for _, p, _ in paths])
        for (name, p, size), mine, oracle in zip(paths, ours, oracles):
            if mine.get("path") != p:
                failures.append(f"{name}: path {mine.get('path')!r} (expected {p!r}) — output order?")
            if list(mine.keys()) != ["path", "size", "sha256", "file_hash", "chunks"]:
                failures.append(f"{name}: JSON keys {list(mine.keys())}")
            diffs = compare(name, mine, oracle)
            failures += diffs
            print(f"{'ok  ' if not diffs else 'FAIL'} {name:24} {size:>9} B "
                  f"{len(mine.get('chunks', [])):>4} chunks {mine.get('file_hash')}", flush=True)

        # Standard input gives the same answer as the file.
        name, p, _ = paths[11]
        with open(p, "rb") as f:
            r = subprocess.run([args.hubfs, "xet", "hash", "--json", "-"], stdin=f,
                               capture_output=True, text=True, timeout=600)
        piped = json.loads(r.stdout) if r.returncode == 0 else {}
        want = dict(ours[11], path="-")
        if piped != want:
            failures.append(f"stdin: {name} piped gives a different answer (rc {r.returncode})")

        # Plain mode prints the same file hashes, sha256sum style.
        r = subprocess.run([args.hubfs, "xet", "hash"] + [p for _, p, _ in paths],
                           capture_output=True, text=True, timeout=600)
        plain = [f"{o['file_hash']}  {o['path']}" for o in ours]
        if r.returncode != 0 or r.stdout.splitlines() != plain:
            failures.append("plain mode output differs from the JSON file hashes")

    if failures:
        print(f"\n{len(failures)} failure(s) (seed {seed}):", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print(f"all {len(paths)} inputs agree with the xet-core oracle (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
