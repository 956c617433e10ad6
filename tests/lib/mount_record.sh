# shellcheck shell=bash
# A mount daemon's record (<cache dir>/mounts/<pid>.json, cli/mount_state.h),
# for the shell tests and benchmarks (sourced, not run).
#   mount_record_fresh FILE KEY
#       prints KEY of the record once the daemon has rewritten it after this
#       call began (it does every 2 s), so a count includes what happened
#       before the call; returns 1 when the record was not rewritten within
#       6 s (or cannot be read).
mount_record_fresh() {
  local before out
  before=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["updated"])' \
    "$1" 2>/dev/null) || return 1
  for _ in $(seq 1 60); do
    sleep 0.1
    # A record being replaced may not parse: asked again.
    out=$(/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
if d["updated"] > int(sys.argv[2]):
    print(d[sys.argv[3]])' "$1" "$before" "$2" 2>/dev/null) || out=""
    if [[ -n $out ]]; then
      echo "$out"
      return 0
    fi
  done
  return 1
}
