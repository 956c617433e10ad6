"""A cluster on one machine (scripts/bench-cluster.sh; not a test).

N mounts with separate cache dirs (as separate nodes would have) read the
same model folder through one shared memcached tier (one or three servers),
one after another (staggered) and all at once (simultaneous). hubsim counts
the bytes the origin served. Per (servers, mode, N): origin bytes over the
model size, the load time of node 1 and of the later nodes, and the tier's
hit ratio (chunks found over chunks asked at first look) and share of the bytes
fetched (tier over tier + origin). Markdown on
stdout; JSON, a gnuplot data file and a PNG (when gnuplot is installed) in
BENCH_OUT.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("BUILD_DIR", "build")
HUBFS = os.path.abspath(f"{BUILD}/bin/hubfs")
HUBSIM = os.path.abspath(f"{BUILD}/bin/hubsim")
OUT = os.path.abspath(os.environ.get("BENCH_OUT", f"{BUILD}/bench"))
SHARDS = int(os.environ.get("BENCH_CLUSTER_SHARDS", "4"))
SHARD_MB = int(os.environ.get("BENCH_CLUSTER_SHARD_MB", "32"))
NODES = [int(n) for n in os.environ.get("BENCH_CLUSTER_NODES", "1 2 4 8").split()]
SERVERS = [int(n) for n in os.environ.get("BENCH_CLUSTER_SERVERS", "1 3").split()]
MODES = os.environ.get("BENCH_CLUSTER_MODES", "staggered simultaneous").split()
LATENCY = os.environ.get("BENCH_CLUSTER_LATENCY", "")  # e.g. 20ms per origin data request
RATE = os.environ.get("BENCH_CLUSTER_RATE", "")  # e.g. 50M bytes/s per origin data answer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_memcached(work, i):
    for _ in range(5):
        port = free_port()
        log = open(f"{work}/memcached-{i}.log", "ab")
        p = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                              "-m", "1024", "-u", os.environ.get("USER", "root")],
                             stdout=log, stderr=log)
        for _ in range(100):
            if p.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return p, port
            except OSError:
                time.sleep(0.05)
        p.kill()
        p.wait()
    sys.exit("bench-cluster: memcached did not start")


def start_hubsim(work):
    log = f"{work}/hubsim.log"
    args = [HUBSIM, "serve", "--data", f"{work}/data", "--listen", "127.0.0.1:0"]
    faults = [f"latency={LATENCY}"] if LATENCY else []
    faults += [f"rate={RATE}"] if RATE else []
    if faults:
        args += ["--faults", ",".join(faults + ["only=data"])]
    p = subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    for _ in range(200):
        text = open(log).read()
        for line in text.splitlines():
            if line.startswith("hubsim listening on "):
                return p, line.split()[3]
        time.sleep(0.05)
    p.kill()
    sys.exit("bench-cluster: hubsim did not start: " + open(log).read())


def origin_bytes(hub):
    import urllib.request
    c = json.load(urllib.request.urlopen(f"{hub}/admin/counters"))
    return sum(v["bytes"] for v in c.get("data", {}).values())


def reset_counters(hub):
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{hub}/admin/counters", method="DELETE"))


def read_folder(mnt):
    start = time.monotonic()
    for name in sorted(os.listdir(mnt)):
        with open(os.path.join(mnt, name), "rb") as f:
            while f.read(8 << 20):
                pass
    return time.monotonic() - start


def node_state(cache):
    d = f"{cache}/mounts"
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if name.endswith(".json"):
            return json.load(open(os.path.join(d, name)))
    return {}


def run_case(work, hub, tier, servers, mode, n, model_bytes):
    reset_counters(hub)
    mounts = []
    try:
        for k in range(n):
            mnt, cache = f"{work}/mnt{k}", f"{work}/cache{k}"
            shutil.rmtree(cache, ignore_errors=True)
            os.makedirs(mnt, exist_ok=True)
            subprocess.run([HUBFS, "mount", "org/model", mnt, "--cache-dir", cache,
                            "--shared-cache", tier], check=True, timeout=60)
            mounts.append((mnt, cache))
        times = [0.0] * n
        if mode == "staggered":
            for k, (mnt, _) in enumerate(mounts):
                times[k] = read_folder(mnt)
        else:
            def one(k):
                times[k] = read_folder(mounts[k][0])
            threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        time.sleep(2.5)  # the mounts' status files are refreshed every 2 s
        hits = misses = errors = tier_bytes = 0
        for _, cache in mounts:
            s = node_state(cache)
            hits += s.get("tier_hits", 0)
            misses += s.get("tier_misses", 0)
            errors += s.get("tier_errors", 0)
            tier_bytes += s.get("tier_bytes", 0)
        origin = origin_bytes(hub)
    finally:
        for mnt, _ in mounts:
            subprocess.run([HUBFS, "unmount", mnt], timeout=60)
    later = times[1:]
    return {
        "servers": servers, "mode": mode, "nodes": n,
        "origin_bytes": origin, "origin_over_model": origin / model_bytes,
        "node1_s": times[0], "later_median_s": statistics.median(later) if later else None,
        "speedup": (times[0] / statistics.median(later)) if later else None,
        "tier_hit_ratio": hits / (hits + misses) if hits + misses else 0.0,
        "tier_share": tier_bytes / (tier_bytes + origin) if tier_bytes + origin else 0.0,
        "tier_errors": errors,
        "times_s": times, "loadavg": os.getloadavg()[0],
    }


def plot(results, out):
    dat = f"{out}/cluster.dat"
    with open(dat, "w") as f:
        for r in results:
            f.write(f'{r["servers"]} {r["mode"]} {r["nodes"]} {r["origin_over_model"]:.3f} '
                    f'{r["speedup"] or 0:.2f} {r["tier_hit_ratio"]:.3f} {r["tier_share"]:.3f}\n')
    if not shutil.which("gnuplot"):
        print("(no gnuplot: scripts/install-deps.sh installs gnuplot-nox; data in "
              f"{dat})", file=sys.stderr)
        return
    png = f"{out}/cluster.png"
    script = f"""
set terminal png size 1200,400
set output '{png}'
set multiplot layout 1,3
set xlabel 'nodes (N)'
set logscale x 2
set key top left
set title 'origin bytes / model size'
plot for [m in "staggered simultaneous"] for [s in "{' '.join(map(str, SERVERS))}"] \\
  '{dat}' using ($1==s+0 && strcol(2) eq m ? $3 : 1/0):4 with linespoints title m.' '.s.' srv', \\
  1.2 with lines dt 2 lc 'gray' title 'target staggered', \\
  2 with lines dt 3 lc 'black' title 'target simultaneous'
set title 'node 1 time / node k median time'
plot for [m in "staggered simultaneous"] for [s in "{' '.join(map(str, SERVERS))}"] \\
  '{dat}' using ($1==s+0 && strcol(2) eq m && $3>1 ? $3 : 1/0):5 with linespoints title m.' '.s.' srv', \\
  2 with lines dt 2 lc 'gray' title 'target (staggered)'
set title 'tier share of bytes fetched'
set yrange [0:1]
plot for [m in "staggered simultaneous"] for [s in "{' '.join(map(str, SERVERS))}"] \\
  '{dat}' using ($1==s+0 && strcol(2) eq m ? $3 : 1/0):7 with linespoints title m.' '.s.' srv'
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    print(f"plot: {png}", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="hubfs-bench-cluster.")
    procs = []
    try:
        src = f"{work}/src"
        os.makedirs(src)
        for i in range(SHARDS):
            with open(f"{src}/model-{i:05d}-of-{SHARDS:05d}.safetensors", "wb") as f:
                f.write(os.urandom(SHARD_MB << 20))
        model_bytes = SHARDS * (SHARD_MB << 20)
        subprocess.run([HUBSIM, "import", "--data", f"{work}/data", "org/model", src],
                       check=True, stdout=subprocess.DEVNULL)
        hub_proc, hub = start_hubsim(work)
        procs.append(hub_proc)
        os.environ.update({"HF_ENDPOINT": hub, "HF_TOKEN_PATH": f"{work}/no-token"})
        for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "HUBFS_SHARED_CACHE"):
            os.environ.pop(k, None)
        results = []
        for servers in SERVERS:
            for mode in MODES:
                for n in NODES:
                    # A fresh, empty tier per case.
                    mcs = [start_memcached(work, i) for i in range(servers)]
                    tier = "memcached://" + ",".join(f"127.0.0.1:{p}" for _, p in mcs)
                    try:
                        r = run_case(work, hub, tier, servers, mode, n, model_bytes)
                    finally:
                        for p, _ in mcs:
                            p.send_signal(signal.SIGTERM)
                            p.wait()
                    results.append(r)
                    print(f"{servers} srv {mode} N={n}: origin {r['origin_over_model']:.2f}x, "
                          f"times {[round(t, 2) for t in r['times_s']]}, "
                          f"hit ratio {r['tier_hit_ratio']:.2f}, tier share {r['tier_share']:.2f}, "
                          f"tier errors {r['tier_errors']}, "
                          f"load {r['loadavg']:.1f}",
                          file=sys.stderr)
        model_mb = model_bytes >> 20
        print(f"\nModel: {SHARDS} x {SHARD_MB} MiB ({model_mb} MiB); origin: latency "
              f"{LATENCY or 'none'} per data request, {RATE + 'B/s' if RATE else 'unbounded'} "
              f"per data answer; load average {os.getloadavg()[0]:.1f} at the end\n")
        print("Tier hit ratio: chunks found over chunks asked at a run's first look (a node "
              "that then waits for a lease holder counts misses); tier share: bytes served by "
              "the tier over all bytes fetched (tier + origin).\n")
        print("| servers | mode | N | origin bytes / model | node 1 (s) | node k>1 median (s) "
              "| node 1 / node k | tier hit ratio | tier share | tier errors | load |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results:
            later = f"{r['later_median_s']:.2f}" if r["later_median_s"] is not None else "-"
            speed = f"{r['speedup']:.1f}x" if r["speedup"] is not None else "-"
            print(f"| {r['servers']} | {r['mode']} | {r['nodes']} | {r['origin_over_model']:.2f} "
                  f"| {r['node1_s']:.2f} | {later} | {speed} | {r['tier_hit_ratio']:.2f} "
                  f"| {r['tier_share']:.2f} | {r['tier_errors']} | {r['loadavg']:.1f} |")
        json.dump({"model_bytes": model_bytes, "latency": LATENCY, "rate": RATE,
                   "loadavg": os.getloadavg(), "results": results},
                  open(f"{OUT}/cluster.json", "w"), indent=1)
        plot(results, OUT)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for k in range(max(NODES)):
            subprocess.run(["fusermount3", "-uz", f"{work}/mnt{k}"], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
