"""Source files for the tests that upload with the official JS client, and a
check of what the client stored in hubsim.

usage:
  js_upload_files.py gen SRC_DIR
      writes random.bin (3 MB, incompressible: uncompressed records),
      data/combined.bin (random.bin + 2 MB: the client deduplicates the
      prefix against random.bin's xorb, so the file spans two xorbs),
      data/compressible.bin (20 MB: text that LZ4 compresses and float32
      blocks that byte grouping + LZ4 compresses) and notes.txt (a git file)
  js_upload_files.py layout HUBSIM_DATA_DIR SRC_DIR
      prints, as JSON, per Xet file: chunk and term (xorb) boundaries and
      record counts by compression scheme, read from hubsim's stored xorbs;
      exits non-zero unless the upload has LZ4 and BG4-LZ4 records, an
      uncompressed random.bin and a combined.bin over two xorbs
Run with /usr/bin/python3 (or any python3 >= 3.9).
"""
import array
import hashlib
import json
import os
import random
import struct
import sys

XET_FILES = ("random.bin", "data/combined.bin", "data/compressible.bin")


def gen(root):
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    r = random.Random(4242)
    # Random bytes: incompressible, so stored as uncompressed records. The NUL
    # at offset 0 makes the Hub's LFS rule (binary sample) send it to Xet.
    rnd = bytearray(r.randbytes(3_000_000))
    rnd[0] = 0
    open(root + "/random.bin", "wb").write(rnd)
    # random.bin followed by new bytes: uploaded after random.bin, the client
    # finds its first chunk on the server (global dedup query) and references
    # random.bin's xorb for the shared prefix, so this file has several terms.
    open(root + "/data/combined.bin", "wb").write(bytes(rnd) + r.randbytes(2_000_000))
    # 20 MB of compressible data in 1 MiB blocks: text made of a small
    # vocabulary (plain LZ4 wins), float32 values in a narrow range (the
    # exponent bytes are constant, so byte grouping before LZ4 wins) and a few
    # random blocks.
    words = [w.encode() for w in
             "the quick brown fox jumps over a lazy dog while hubfs reads chunks from xorbs "
             "lazily through an lmdb cache of content addressed records".split()]
    out = bytearray(b"\0hubfs compressible test file\n")
    block = 1 << 20
    i = 0
    while len(out) < 20_000_000:
        kind = i % 5
        if kind in (0, 3):
            parts = []
            n = 0
            while n < block:
                w = words[r.randrange(len(words))]
                parts.append(w)
                n += len(w) + 1
            out += b" ".join(parts)[:block]
        elif kind in (1, 2):
            out += array.array("f", (1.0 + r.random() * 0.001 for _ in range(block // 4))).tobytes()
        else:
            out += r.randbytes(block)
        i += 1
    open(root + "/data/compressible.bin", "wb").write(out[:20_000_000])
    open(root + "/notes.txt", "w").write("small text file uploaded by the JS client\nsecond line\n")


def layout(data, src):
    def sharded(kind, name):
        return os.path.join(data, "cas", kind, name[:2], name)

    def xorb_index(h):
        b = open(sharded("xorbs", h) + ".idx", "rb").read()
        assert b[:4] == b"HSXI"
        n = struct.unpack_from("<I", b, 4)[0]
        return [struct.unpack_from("<II", b, 8 + i * 40 + 32) for i in range(n)]  # (len, record end)

    def record_schemes(h):
        body = open(sharded("xorbs", h), "rb").read()
        seen, off = {}, 0
        while off < len(body):
            ver, clen, scheme = body[off], int.from_bytes(body[off + 1:off + 4], "little"), body[off + 4]
            assert ver == 0 and scheme in (0, 1, 2), f"bad record header at {off} in xorb {h}"
            seen[scheme] = seen.get(scheme, 0) + 1
            off += 8 + clen
        assert off == len(body), f"xorb {h}: records overrun the body"
        return seen

    out = {}
    for rel in XET_FILES:
        content = open(os.path.join(src, rel), "rb").read()
        sha = hashlib.sha256(content).hexdigest()
        file_hash, size = open(sharded("sha256", sha)).read().split()
        assert int(size) == len(content), (rel, size)
        terms = json.load(open(sharded("files", file_hash) + ".json"))["terms"]
        chunk_ends, term_ends, schemes, pos = [], [], {}, 0
        for xorb, start, end in terms:
            idx = xorb_index(xorb)
            for length, _ in idx[start:end]:
                pos += length
                chunk_ends.append(pos)
            term_ends.append(pos)
            for k, v in record_schemes(xorb).items():
                schemes[str(k)] = schemes.get(str(k), 0) + v
        assert pos == len(content), f"{rel}: terms cover {pos} of {len(content)} bytes"
        out[rel] = {"size": len(content), "file_hash": file_hash, "chunk_ends": chunk_ends,
                    "term_ends": term_ends, "schemes": schemes, "xorbs": [t[0] for t in terms]}

    for rel, v in out.items():
        print(f"  {rel}: {v['size']} bytes, {len(v['chunk_ends'])} chunks, {len(v['term_ends'])} terms, "
              f"records by scheme (0 none, 1 LZ4, 2 BG4-LZ4): {v['schemes']}", file=sys.stderr)
    c = out["data/compressible.bin"]["schemes"]
    assert c.get("1", 0) > 0, "no LZ4 record in the compressible file's xorbs"
    assert c.get("2", 0) > 0, "no BG4-LZ4 record in the compressible file's xorbs"
    assert out["random.bin"]["schemes"].get("0", 0) > 0, "no uncompressed record for random.bin"
    assert len(out["random.bin"]["chunk_ends"]) >= 10, "random.bin is not chunked"
    comb = out["data/combined.bin"]
    assert len(comb["term_ends"]) >= 2 and comb["xorbs"][0] in out["random.bin"]["xorbs"], \
        f"combined.bin did not reuse random.bin's xorb: terms {comb['xorbs']}"
    json.dump(out, sys.stdout)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "layout":
        layout(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
