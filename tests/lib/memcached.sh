# shellcheck shell=bash
# Starting memcached for the shell tests and benchmarks (sourced, not run).
#   memcached_start LOG [PORT_VAR PID_VAR]
#       runs memcached on a free 127.0.0.1 port in the background of the
#       calling shell and returns once it answers; sets MEMCACHED_PORT and
#       MEMCACHED_PID (or the variables named). Returns non-zero, with the
#       log on stderr, if no port worked (5 tries).
#   memcached_items PORT      items it holds now (its `stats`)
#   memcached_keys PORT       its keys, one a line (`lru_crawler metadump`)
# The caller kills it by pid in its EXIT trap.

_memcached_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# memcached_cmd PORT COMMAND: the server's answer up to END (or a timeout).
memcached_cmd() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(sys.argv[2].encode() + b"\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
sys.stdout.write(buf.decode(errors="replace"))
PY
}

memcached_start() {
  local log=$1 port_var=${2:-MEMCACHED_PORT} pid_var=${3:-MEMCACHED_PID} port pid _try _
  for _try in 1 2 3 4 5; do
    port=$(_memcached_free_port)
    memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -u "$(id -un)" >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      if memcached_cmd "$port" stats >/dev/null 2>&1; then
        printf -v "$port_var" '%s' "$port"
        printf -v "$pid_var" '%s' "$pid"
        return 0
      fi
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  echo "memcached did not start: $(cat "$log")" >&2
  return 1
}

memcached_items() {
  memcached_cmd "$1" stats | sed -n 's/^STAT curr_items \([0-9]*\).*/\1/p'
}

memcached_keys() {
  memcached_cmd "$1" "lru_crawler metadump all" | sed -n 's/^key=\([^ ]*\).*/\1/p'
}
