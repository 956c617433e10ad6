#!/usr/bin/env bash
# Files uploaded by the official @huggingface/hub JS client (its own chunker,
# LZ4 / byte-grouping LZ4 records, its own xorbs and shards) read back with the
# real `hubfs` CLI from hubsim:
#   - a 3 MB random file (Xet, uncompressed records), a 20 MB compressible file
#     in a subdirectory (Xet; LZ4 and BG4-LZ4 records, checked in hubsim's
#     stored xorbs), a 5 MB file whose first 3 MB the client deduplicated
#     against the first file's xorb (so it spans two xorbs) and a small text
#     file (regular git blob)
#   - `hubfs ls -R` / `ls -l` list them with their sizes and kinds
#   - `hubfs cat` of each whole file (verified) equals the original
#   - ranges: first and last byte, either side of chunk and xorb boundaries
#     (taken from hubsim's stored reconstruction terms and xorb indexes), and
#     ~200 random ranges from a printed seed (READER_JS_SEED replays one), on a
#     cold cache that fills as it goes, all byte-compared with the originals
# usage: reader_js_upload_test.sh HUBFS HUBSIM CONFORMANCE_KIT_DIR
set -euo pipefail
HUBFS=$1
HUBSIM=$2
KIT=$3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NODE=$(command -v node) || { echo "FAIL: node not found" >&2; exit 1; }
[ -d "$KIT/node_modules/@huggingface/hub" ] ||
  { echo "FAIL: $KIT has no node_modules (run scripts/setup-conformance.sh)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubfs-reader-js-XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
t_start=$(date +%s)

# --- source files
src=$tmp/src
mkdir -p "$src/data"
"$PY" - "$src" <<'PYEOF'
import array, random, sys
root = sys.argv[1]
r = random.Random(4242)
# Random bytes: incompressible, so stored as uncompressed records. The NUL at
# offset 0 makes the Hub's LFS rule (binary sample) send it to Xet storage.
rnd = bytearray(r.randbytes(3_000_000))
rnd[0] = 0
open(root + "/random.bin", "wb").write(rnd)
# random.bin followed by new bytes: uploaded after random.bin, the client finds
# its first chunk on the server (global dedup query) and references
# random.bin's xorb for the shared prefix, so this file has several terms.
open(root + "/data/combined.bin", "wb").write(bytes(rnd) + r.randbytes(2_000_000))

# 20 MB of compressible data in 1 MiB blocks: text made of a small vocabulary
# (plain LZ4 wins), float32 values in a narrow range (the exponent bytes are
# constant, so byte grouping before LZ4 wins) and a few random blocks.
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
PYEOF

# --- hubsim with a user; repo created and files uploaded by the JS client
"$HUBSIM" serve --data "$tmp/data" --listen 127.0.0.1:0 --user jsuser:hf_jsuser_token \
  >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "hubsim listening on" "$tmp/serve.log" && break
  kill -0 "$server_pid" 2>/dev/null || fail "hubsim exited: $(cat "$tmp/serve.log")"
  sleep 0.1
done
HUB=$(sed -n 's/.*hubsim listening on \(http[^ ]*\).*/\1/p' "$tmp/serve.log" | head -1)
[ -n "$HUB" ] || fail "hubsim did not start: $(cat "$tmp/serve.log")"

REPO=jsuser/js-upload
js() {  # js CMD ARGS...: the official client, run from the kit directory
  (cd "$KIT" && HF_ENDPOINT=$HUB HF_TOKEN=hf_jsuser_token HF_REPO=$REPO "$NODE" driver.mjs "$@")
}
js create >"$tmp/create.json" 2>"$tmp/js.err" || fail "JS createRepo: $(cat "$tmp/js.err")"
t_up=$(date +%s)
js upload "$src/random.bin" random.bin >"$tmp/up1.json" 2>"$tmp/js.err" || fail "JS upload random.bin: $(cat "$tmp/js.err")"
js upload "$src/data/combined.bin" data/combined.bin >"$tmp/up0.json" 2>"$tmp/js.err" ||
  fail "JS upload combined.bin: $(cat "$tmp/js.err")"
js upload "$src/data/compressible.bin" data/compressible.bin >"$tmp/up2.json" 2>"$tmp/js.err" ||
  fail "JS upload compressible.bin: $(cat "$tmp/js.err")"
js upload "$src/notes.txt" notes.txt >"$tmp/up3.json" 2>"$tmp/js.err" || fail "JS upload notes.txt: $(cat "$tmp/js.err")"
t_up_done=$(date +%s)
grep -q '"oid"' "$tmp/up3.json" || fail "JS upload did not report a commit: $(cat "$tmp/up3.json")"

export HF_ENDPOINT=$HUB HF_TOKEN=hf_jsuser_token HF_HOME=$tmp/hfhome
unset HF_HUB_OFFLINE HUGGING_FACE_HUB_TOKEN HUBFS_CACHE_DIR || true

# --- what the client stored: chunk and xorb boundaries per file, record kinds
"$PY" - "$tmp/data" "$src" >"$tmp/layout.json" <<'PYEOF' || fail "reading hubsim's stored layout"
import hashlib, json, os, struct, sys
data, src = sys.argv[1], sys.argv[2]
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
        ver, clen, scheme, ulen = body[off], int.from_bytes(body[off+1:off+4], "little"), body[off+4], int.from_bytes(body[off+5:off+8], "little")
        assert ver == 0 and scheme in (0, 1, 2), f"bad record header at {off} in xorb {h}"
        seen[scheme] = seen.get(scheme, 0) + 1
        off += 8 + clen
    assert off == len(body), f"xorb {h}: records overrun the body"
    return seen
out = {}
for rel in ("random.bin", "data/combined.bin", "data/compressible.bin"):
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
json.dump(out, sys.stdout)
PYEOF
"$PY" - "$tmp/layout.json" <<'PYEOF' || fail "the JS upload did not produce the expected records"
import json, sys
l = json.load(open(sys.argv[1]))
for rel, v in l.items():
    print(f"  {rel}: {v['size']} bytes, {len(v['chunk_ends'])} chunks, {len(v['term_ends'])} terms, "
          f"records by scheme (0 none, 1 LZ4, 2 BG4-LZ4): {v['schemes']}")
c = l["data/compressible.bin"]["schemes"]
assert c.get("1", 0) > 0, "no LZ4 record in the compressible file's xorbs"
assert c.get("2", 0) > 0, "no BG4-LZ4 record in the compressible file's xorbs"
assert l["random.bin"]["schemes"].get("0", 0) > 0, "no uncompressed record for random.bin"
assert len(l["random.bin"]["chunk_ends"]) >= 10, "random.bin is not chunked"
comb = l["data/combined.bin"]
assert len(comb["term_ends"]) >= 2 and comb["xorbs"][0] in l["random.bin"]["xorbs"], \
    f"combined.bin did not reuse random.bin's xorb: terms {comb['xorbs']}"
PYEOF

# --- listing
"$HUBFS" ls -R "$REPO" >"$tmp/ls.txt" 2>"$tmp/err" || fail "ls -R: $(cat "$tmp/err")"
for p in random.bin data/combined.bin data/compressible.bin notes.txt; do
  grep -qx "$p" "$tmp/ls.txt" || fail "ls -R lacks $p: $(cat "$tmp/ls.txt")"
done
"$HUBFS" ls -l -R "$REPO" >"$tmp/ls-l.txt" || fail "ls -l -R"
grep -q " 3000000 xet random.bin$" "$tmp/ls-l.txt" || fail "ls -l: random.bin: $(cat "$tmp/ls-l.txt")"
grep -q " 5000000 xet data/combined.bin$" "$tmp/ls-l.txt" || fail "ls -l: combined.bin: $(cat "$tmp/ls-l.txt")"
grep -q " 20000000 xet data/compressible.bin$" "$tmp/ls-l.txt" || fail "ls -l: compressible.bin: $(cat "$tmp/ls-l.txt")"
grep -q " $(stat -c %s "$src/notes.txt") git notes.txt$" "$tmp/ls-l.txt" || fail "ls -l: notes.txt: $(cat "$tmp/ls-l.txt")"

# --- whole files (cold cache; a whole-file cat also checks the Xet hash and SHA-256)
for p in random.bin data/combined.bin data/compressible.bin notes.txt; do
  "$HUBFS" cat --cache-dir "$tmp/cache-whole" "$REPO/$p" >"$tmp/whole.out" 2>"$tmp/err" ||
    fail "cat $p: $(cat "$tmp/err")"
  cmp "$src/$p" "$tmp/whole.out" || fail "cat $p differs from the uploaded file"
  [ "$(sha256sum <"$tmp/whole.out" | cut -d' ' -f1)" = "$(sha256sum <"$src/$p" | cut -d' ' -f1)" ] ||
    fail "cat $p: sha256 differs"
done

# --- ranges, on a separate cache that starts cold
seed=${READER_JS_SEED:-$(( $(date +%s%N) % 1000000007 ))}
echo "reader_js_upload: random range seed $seed (READER_JS_SEED=$seed replays it)"
"$PY" - "$HUBFS" "$REPO" "$src" "$tmp/layout.json" "$tmp/cache-ranges" "$seed" <<'PYEOF' ||
import json, random, subprocess, sys
hubfs, repo, src, layout_path, cache, seed = sys.argv[1:7]
layout = json.load(open(layout_path))
files = {rel: open(f"{src}/{rel}", "rb").read()
         for rel in ("random.bin", "data/combined.bin", "data/compressible.bin", "notes.txt")}
cases = []  # (file, start, end exclusive, why)
for rel, content in files.items():
    n = len(content)
    cases += [(rel, 0, 1, "first byte"), (rel, n - 1, n, "last byte"), (rel, 0, n, "whole via --range"),
              (rel, n - 1, n + 100, "past the end")]
for rel, v in layout.items():
    n = v["size"]
    ends = v["chunk_ends"][:-1]
    # Every xorb (term) boundary, and chunk boundaries spread over the file.
    picks = sorted(set(v["term_ends"][:-1]) | set(ends[:: max(1, len(ends) // 16)]))
    for b in picks:
        cases.append((rel, b - 1, b + 1, f"2 bytes across boundary {b}"))
        cases.append((rel, b, b + 1, f"first byte after boundary {b}"))
        cases.append((rel, max(0, b - 70_000), min(n, b + 70_000), f"140 KB around boundary {b}"))
    # A range spanning several whole chunks and ending exactly on a boundary.
    if len(ends) > 8:
        cases.append((rel, ends[2], ends[7], "chunks 3..7 exactly"))
r = random.Random(int(seed))
names = list(files)
weights = [3, 3, 6, 1]
for _ in range(200):
    rel = r.choices(names, weights)[0]
    n = len(files[rel])
    size = r.choice([1, r.randint(1, 100), r.randint(100, 70_000), r.randint(70_000, 2_000_000)])
    a = r.randrange(n)
    cases.append((rel, a, min(n, a + size), "random"))
bad = checked = 0
for rel, a, b, why in cases:
    checked += 1
    p = subprocess.run([hubfs, "cat", "--cache-dir", cache, "--range", f"{a}-{b}", f"{repo}/{rel}"],
                       capture_output=True)
    want = files[rel][a:b]
    if p.returncode != 0 or p.stdout != want:
        bad += 1
        print(f"range {a}-{b} of {rel} ({why}): rc={p.returncode}, got {len(p.stdout)} bytes, "
              f"want {len(want)}; {p.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        if bad >= 10:
            break
print(f"  {checked} of {len(cases)} ranges checked, {bad} wrong")
sys.exit(1 if bad else 0)
PYEOF
  fail "ranged reads (seed $seed)"

# The range cache now holds part of the compressible file: a whole read mixes
# cached and fetched chunks.
"$HUBFS" cat --cache-dir "$tmp/cache-ranges" "$REPO/data/compressible.bin" >"$tmp/whole.out" 2>"$tmp/err" ||
  fail "cat over a partly warm cache: $(cat "$tmp/err")"
cmp "$src/data/compressible.bin" "$tmp/whole.out" || fail "cat over a partly warm cache differs"

t_end=$(date +%s)
echo "reader_js_upload_test: OK (JS uploads $((t_up_done - t_up)) s, total $((t_end - t_start)) s)"
