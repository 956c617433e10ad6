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
#   (the JS test kit: tests/js installed by scripts/setup-conformance.sh)
set -euo pipefail
source "$(dirname "$0")/../lib/hubsim.sh"
source "$(dirname "$0")/../lib/workdir.sh"
HUBFS=$1
HUBSIM=$2
KIT=$3
LIB=$(cd "$(dirname "$0")/../lib" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NODE=$(command -v node) || { echo "FAIL: node not found" >&2; exit 1; }
[ -d "$KIT/node_modules/@huggingface/hub" ] ||
  { echo "FAIL: $KIT has no node_modules (run scripts/setup-conformance.sh)" >&2; exit 1; }

workdir_setup reader-js
t_start=$(date +%s)

# --- source files
src=$tmp/src
mkdir -p "$src/data"
"$PY" "$LIB/js_upload_files.py" gen "$src" || fail "writing the source files"

# --- hubsim with a user; repo created and files uploaded by the JS client
hubsim_start "$tmp/data" "$tmp/serve.log" --user jsuser:hf_jsuser_token || fail "hubsim did not start"
HUB=$HUBSIM_URL

REPO=jsuser/js-upload
js() {  # js CMD ARGS...: the official client (tests/js/hub_client.mjs) from the kit
  (cd "$KIT" && HF_ENDPOINT=$HUB HF_TOKEN=hf_jsuser_token HF_REPO=$REPO "$NODE" hub_client.mjs "$@")
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
"$PY" "$LIB/js_upload_files.py" layout "$tmp/data" "$src" >"$tmp/layout.json" ||
  fail "the JS upload did not produce the expected records"

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

# --- whole files (cold cache; a whole-file cat --sha256 also checks the Xet hash and the SHA-256
# the official client committed)
for p in random.bin data/combined.bin data/compressible.bin notes.txt; do
  "$HUBFS" cat --sha256 --cache-dir "$tmp/cache-whole" "$REPO/$p" >"$tmp/whole.out" 2>"$tmp/err" ||
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
