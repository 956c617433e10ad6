#!/usr/bin/env bash
# The main job, offline: build hubfs and hubsim, generate a small model repo
# (config, tokenizer, a ~32 MB safetensors file, a README), commit it into a
# local hubsim, serve it on loopback, and mount it with hubfs.
#
#   scripts/demo.sh          set everything up and leave the mount running
#   scripts/demo.sh stop     unmount and stop hubsim
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=$root/build/demo
mnt=$demo/mnt
rw=$demo/rw
token=hf_demo_token

stop() {
  if mountpoint -q "$mnt" 2>/dev/null; then build/bin/hubfs unmount "$mnt" || true; fi
  if mountpoint -q "$rw" 2>/dev/null; then build/bin/hubfs unmount "$rw" || true; fi
  if [[ -f $demo/hubsim.pid ]]; then kill "$(cat "$demo/hubsim.pid")" 2>/dev/null || true; rm -f "$demo/hubsim.pid"; fi
}
if [[ ${1:-} == stop ]]; then stop; echo "demo stopped"; exit 0; fi

scripts/install-deps.sh
scripts/build.sh
stop
rm -rf "$demo/data" "$demo/src" "$demo/cache"
mkdir -p "$demo/src" "$mnt" "$rw"

# A sample model: config, tokenizer, weights in safetensors format, README.
/usr/bin/python3 - "$demo/src" <<'PY'
import json, os, struct, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(7)
json.dump({"architectures": ["DemoModel"], "hidden_size": 1024, "num_layers": 8,
           "vocab_size": 4096, "torch_dtype": "float32"}, open(f"{out}/config.json", "w"), indent=2)
vocab = {f"tok{i}": i for i in range(4096)}
json.dump({"version": "1.0", "model": {"type": "WordLevel", "vocab": vocab}},
          open(f"{out}/tokenizer.json", "w"))
tensors, header, offset = [], {}, 0
for i in range(8):
    t = rng.standard_normal((1024, 1024), dtype=np.float32)
    header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [1024, 1024],
                                    "data_offsets": [offset, offset + t.nbytes]}
    offset += t.nbytes
    tensors.append(t)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(f"{out}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for t in tensors:
        f.write(t.tobytes())
open(f"{out}/README.md", "w").write("---\nlicense: mit\n---\n# demo/model\nA generated model for the hubfs demo.\n")
PY

build/bin/hubsim import --data "$demo/data" --user demo demo/model "$demo/src" --message "Add the demo model" >/dev/null
build/bin/hubsim serve --data "$demo/data" --listen 127.0.0.1:0 --user "demo:$token" \
  > "$demo/hubsim.out" 2> "$demo/hubsim.log" &
echo $! > "$demo/hubsim.pid"
for _ in $(seq 50); do grep -q "listening on" "$demo/hubsim.out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(sed -n 's/^hubsim listening on //p' "$demo/hubsim.out" | head -1)
[[ -n $endpoint ]] || { echo "hubsim did not start; see $demo/hubsim.log" >&2; exit 1; }
export HF_ENDPOINT=$endpoint HUBFS_CACHE_DIR=$demo/cache

echo "== hubsim serves demo/model at $endpoint"
echo "== hubfs ls -l demo/model"
build/bin/hubfs ls -l demo/model
echo "== hubfs cat: bytes [0, 8) of the safetensors file (its header length), then the whole file's sha256"
build/bin/hubfs cat --range 0-8 demo/model/model.safetensors | od -A d -t u8 | head -1
echo "  remote $(build/bin/hubfs cat demo/model/model.safetensors | sha256sum | cut -c1-64)"
echo "  local  $(sha256sum "$demo/src/model.safetensors" | cut -c1-64)"
echo "== hubfs mount demo/model $mnt"
build/bin/hubfs mount demo/model "$mnt" --cache-dir "$demo/cache"
ls -l "$mnt"
cat <<MSG

The repo is mounted read-only at $mnt. Try:
  ls -l $mnt; cat $mnt/config.json
  /usr/bin/python3 -c "import numpy as np; a = np.memmap('$mnt/model.safetensors', mode='r'); print(a[:8].view('<u8'))"
  getfattr -d $mnt/model.safetensors        # user.hf.* attributes
  build/bin/hubfs status                    # the mount, its daemon and cache
  HF_ENDPOINT=$endpoint HUBFS_CACHE_DIR=$demo/cache build/bin/hubfs cat demo/model/README.md
Writable (the user demo's token; commits follow closes within 2 s):
  export HF_ENDPOINT=$endpoint HF_TOKEN=$token
  build/bin/hubfs mount demo/model $rw --rw --cache-dir $demo/cache
  echo hello > $rw/hello.txt; build/bin/hubfs sync $rw; build/bin/hubfs ls demo/model
Stop it with: scripts/demo.sh stop
MSG
