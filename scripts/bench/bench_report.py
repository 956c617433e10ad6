#!/usr/bin/env python3
"""The table and JSON of scripts/bench.sh (not run by hand).

  bench_report.py fio FIO_JSON PREFIX
      prints "PREFIX_iops", "PREFIX_p50_us", "PREFIX_p99_us", "PREFIX_reads"
      lines for the results file from one fio JSON
  bench_report.py table RESULTS FILE_SIZE JSON MD
      RESULTS holds "key value" lines, a key once per run (BENCH_REPEAT runs)
      or once in all; prints the markdown table, writes it to MD and every
      sample, the medians, the minima and the §8 targets to JSON

Each row gives the median over the runs, the best run (the shortest time, the
most IOPS) and a ratio of medians against its baseline measured in the same
run (> 1: faster than the baseline); the targets are checked on medians
(peak memory: on the worst run).
"""
import json
import statistics
import sys


class Samples:
    """The results file: every sample of every key, in run order."""

    def __init__(self, path):
        self.v = {}
        for line in open(path):
            k, x = line.split()
            self.v.setdefault(k, []).append(float(x))

    def med(self, k):
        return statistics.median(self.v[k])

    def best(self, k, higher=False):
        return max(self.v[k]) if higher else min(self.v[k])

    def runs(self, k):
        return len(self.v[k])


def fio_lines(path, prefix):
    r = json.load(open(path))["jobs"][0]["read"]
    p = r["clat_ns"]["percentile"]
    print(f"{prefix}_iops", round(r["iops"], 1))
    print(f"{prefix}_p50_us", round(p["50.000000"] / 1000, 1))
    print(f"{prefix}_p99_us", round(p["99.000000"] / 1000, 1))
    print(f"{prefix}_reads", r["total_ios"])


class Table:
    def __init__(self, s, size):
        self.s, self.size = s, size
        self.rows, self.targets = [], []

    def mbs(self, ms, nbytes=None):
        return (nbytes or self.size) / (ms / 1000) / 1e6

    def med_mbs(self, key):
        return self.mbs(self.s.med(key + "_ms"))

    def row(self, name, median, best, vs, detail=""):
        self.rows.append((name, median, best, vs, detail))

    def rate_row(self, name, key, vs):
        """A sequential read of the whole file timed as KEY_ms."""
        ms = self.s.med(key + "_ms")
        self.row(name, f"{self.mbs(ms):.0f} MB/s", f"{self.mbs(self.s.best(key + '_ms')):.0f} MB/s", vs,
                 f"{ms / 1000:.2f} s")

    def ratio(self, key, base, label):
        return f"{self.med_mbs(key) / self.med_mbs(base):.2f}x {label}"

    def target(self, what, ok, measured):
        self.targets.append({"target": what, "measured": measured, "pass": bool(ok)})


def sequential_rows(t):
    s, mib = t.s, t.size >> 20
    curl = t.mbs(s.med("curl_ms"), s.med("curl_bytes"))
    vs_curl = lambda key: f"{t.med_mbs(key) / curl:.2f}x curl"
    t.rate_row(f"mount, cold: {mib} MiB", "mount_cold",
               f"{vs_curl('mount_cold')}, {t.ratio('mount_cold', 'js', 'JS')}, "
               f"{t.ratio('mount_cold', 'cat_cold', 'cat')}")
    noop = "noop_ms" in s.v
    t.rate_row(f"mount, warm (page caches dropped): {mib} MiB", "mount_warm",
               t.ratio("mount_warm", "local", "local") +
               (", " + t.ratio("mount_warm", "noop", "no-op FUSE") if noop else ""))
    t.rate_row(f"hubfs cat, cold: {mib} MiB", "cat_cold",
               f"{t.ratio('cat_cold', 'js', 'JS')}, {vs_curl('cat_cold')}")
    t.rate_row(f"hubfs cat, warm (page caches dropped): {mib} MiB", "cat_warm",
               t.ratio("cat_warm", "local", "local"))
    t.rate_row(f"JS downloadFile: {mib} MiB", "js", f"baseline; {vs_curl('js')}")
    t.row(f"curl, plan's {int(s.med('curl_ranges'))} ranges x8", f"{curl:.0f} MB/s",
          f"{t.mbs(s.best('curl_ms'), s.med('curl_bytes')):.0f} MB/s", "baseline (ceiling)",
          f"{s.med('curl_bytes') / 1e6:.0f} MB in {s.med('curl_ms') / 1000:.2f} s")
    t.rate_row(f"local file (page cache dropped): {mib} MiB", "local", "baseline")
    t.rate_row(f"local file (page cache warm): {mib} MiB", "local_hot", "baseline")
    if noop:
        t.rate_row(f"no-op FUSE file (page cache dropped): {mib} MiB", "noop",
                   f"ceiling of a FUSE read; {t.ratio('noop', 'local', 'local')}")
    for temp in ("cold", "warm"):
        g = [x / t.size for x in s.v[f"{temp}_cache_growth"]]
        t.row(f"page cache growth, {temp} read through the mount", f"{statistics.median(g):.2f}x the bytes read",
              f"{min(g):.2f}x", "", "Cached in /proc/meminfo, before and after the read")
    first, later = s.v["mount_cold_ms"][0], s.v["mount_cold_ms"][1:]
    if later:
        t.row("cold mount read, runs 2.. vs run 1", f"{min(later) / first:.2f}x run 1's time (best)",
              f"{max(later) / first:.2f}x (slowest)", "", "ms per run: " + ", ".join(f"{x:.0f}" for x in s.v["mount_cold_ms"]))
    t.row("re-open, page cache warm", f"{s.med('reopen_reader_calls'):.0f} reader calls",
          f"{s.best('reopen_reader_calls'):.0f} reader calls", t.ratio("reopen", "local_hot", "local warm"),
          f"{t.med_mbs('reopen'):.0f} MB/s; {s.best('reopen_resident_pct'):.3f}% resident before, at least")


def fio_rows(t):
    s = t.s
    for case, name, vs in [("cold", "cold", ("warm", "warm")), ("warm", "warm (chunk cache full)", ("local", "local")),
                           ("local", "local file", None)]:
        k = f"fio_{case}"
        ratio = f"{s.med(k + '_iops') / s.med(f'fio_{vs[0]}_iops'):.2f}x {vs[1]}" if vs else "baseline"
        detail = f"p50 {s.med(k + '_p50_us'):.0f} us, p99 {s.med(k + '_p99_us'):.0f} us"
        if case == "cold":
            detail += f"; {s.med('fio_cold_requests') / max(1, s.med('fio_cold_reads')):.2f} HTTP requests per read"
        t.row(f"fio 4 KiB random reads, {name}", f"{s.med(k + '_iops'):.0f} IOPS",
              f"{s.best(k + '_iops', higher=True):.0f} IOPS", ratio, detail)


def selective_row(t):
    s = t.s
    bound = 1.1 * s.med("st_needed") + 4 * (1 << 20)
    t.row(f"safetensors header + 2 tensors of {s.med('st_size') / 2**20:.0f} MiB",
          f"{s.med('st_fetched') / 1e6:.2f} MB fetched", "", f"{s.med('st_fetched') / s.med('st_needed'):.1f}x needed",
          f"needed {s.med('st_needed'):.0f} B; bound {bound / 1e6:.2f} MB")


def listing_rows(t):
    s = t.s
    for op, name in [("find", "find"), ("du", "du -s"), ("ls", "ls -lR")]:
        for temp in ("cold", "warm"):
            k, local = f"{op}_{temp}", f"local_{op}_{temp}_ms"
            t.row(f"{name} of {int(s.med('many_files'))} files ({int(s.med('many_dirs'))} folders), {temp}",
                  f"{s.med(k + '_ms'):.0f} ms", f"{s.best(k + '_ms'):.0f} ms",
                  f"{s.med(local) / s.med(k + '_ms'):.2f}x local ({s.med(local):.0f} ms)",
                  f"{s.med(k + '_requests'):.0f} requests ({s.med(k + '_tree'):.0f} tree listings)")


def stream_and_hash_rows(t):
    s = t.s
    size = s.med("stream_size")
    curl = t.mbs(s.med("curl_ms"), s.med("curl_bytes"))
    rate = t.mbs(s.med("stream_ms"), size)
    t.row(f"stream {size / 2**30:.2f} GiB through the mount", f"{rate:.0f} MB/s",
          f"{t.mbs(s.best('stream_ms'), size):.0f} MB/s", f"{rate / curl:.2f}x curl",
          f"peak RssAnon {s.med('stream_rss_anon_mib'):.0f} MiB, worst {s.best('stream_rss_anon_mib', higher=True):.0f} MiB")
    hash_gbs = t.med_mbs("xet_hash") / 1000
    vs = t.ratio("xet_hash", "b3sum", "b3sum") if "b3sum_ms" in s.v else f"{hash_gbs:.2f}x the 1 GB/s target"
    t.row(f"hubfs xet hash, {t.size >> 20} MiB, one core", f"{hash_gbs:.2f} GB/s",
          f"{t.mbs(s.best('xet_hash_ms')) / 1000:.2f} GB/s", vs,
          f"b3sum --num-threads 1: {t.med_mbs('b3sum') / 1000:.2f} GB/s" if "b3sum_ms" in s.v else "")


def targets(t):
    s = t.s
    cold, warm = t.med_mbs("mount_cold"), t.med_mbs("mount_warm")
    curl = t.mbs(s.med("curl_ms"), s.med("curl_bytes"))
    r = cold / curl; t.target("cold mount >= 0.70 x curl ranges x8", r >= 0.7, f"{r:.2f}x")
    r = t.med_mbs("cat_cold") / t.med_mbs("js")
    t.target("hubfs cat cold >= 1.5 x JS downloadFile", r >= 1.5, f"{r:.2f}x")
    r = cold / t.med_mbs("js"); t.target("cold mount faster than JS downloadFile", r > 1, f"{r:.2f}x")
    g = s.med("cold_cache_growth") / t.size
    t.target("page cache growth over a cold read <= 1.2 x the bytes read", g <= 1.2, f"{g:.2f}x")
    # A slowdown of the session shows in every later run; one slow run is
    # this machine's noise (+-20% from run to run).
    later = s.v["mount_cold_ms"][1:]
    if later:
        r = min(later) / s.v["mount_cold_ms"][0]
        t.target("no slowdown on later cold runs (the best <= 1.15 x run 1's time)", r <= 1.15,
                 f"{r:.2f}x (best), {max(later) / s.v['mount_cold_ms'][0]:.2f}x (slowest)")
    r = warm / t.med_mbs("local"); t.target("warm mount >= 0.90 x local file", r >= 0.9, f"{r:.2f}x")
    calls = s.best("reopen_reader_calls", higher=True)
    t.target("re-open with warm page cache: 0 read upcalls", calls == 0, f"{calls:.0f} reader calls, worst run")
    r = s.med("fio_cold_requests") / max(1, s.med("fio_cold_reads"))
    t.target("random 4 KiB read <= 2 HTTP round trips", r <= 2, f"{r:.2f} requests per read")
    bound = 1.1 * s.med("st_needed") + 4 * (1 << 20)
    t.target("selective read <= 1.1 x needed + 1 MiB per tensor edge", s.med("st_fetched") <= bound,
             f"{s.med('st_fetched') / s.med('st_needed'):.0f}x needed, {s.med('st_fetched') / bound:.2f} of the bound")
    for op, name, temp, limit in [("find", "find", "warm", 50), ("du", "du", "warm", 50),
                                  ("ls", "ls -lR", "cold", 1000), ("ls", "ls -lR", "warm", 200)]:
        ms = s.med(f"{op}_{temp}_ms")
        t.target(f"{name} {temp} <= {limit} ms", ms <= limit, f"{ms:.0f} ms")
    keys = [f"{op}_{temp}" for op in ("find", "du", "ls") for temp in ("cold", "warm")]
    per_file = max(max(s.v[k + "_requests"]) - max(s.v[k + "_tree"]) for k in keys)
    tree = max(max(s.v[f"{op}_cold_tree"]) for op in ("find", "du", "ls"))
    t.target("listing: zero per-file requests", per_file == 0 and tree <= s.med("many_dirs"),
             f"{int(per_file)} non-listing requests; at most {int(tree)} listings for {int(s.med('many_dirs'))} folders")
    rss = s.best("stream_rss_anon_mib", higher=True)
    t.target("RssAnon while streaming <= 256 MiB", rss <= 256, f"{rss:.0f} MiB, worst run")
    g = t.med_mbs("xet_hash") / 1000
    t.target("xet hash >= 1 GB/s per core", g >= 1, f"{g:.2f} GB/s")


def markdown(t, runs):
    md = [f"| measurement | median of {runs} | best of {runs} | vs baseline (medians, same run) | detail |",
          "| --- | --- | --- | --- | --- |"]
    md += [f"| {' | '.join(r)} |" for r in t.rows]
    md += ["", "| §8 target | measured | |", "| --- | --- | --- |"]
    md += [f"| {x['target']} | {x['measured']} | {'pass' if x['pass'] else 'MISS'} |" for x in t.targets]
    return "\n".join(md) + "\n"


def table(results, size, json_path, md_path):
    s = Samples(results)
    t = Table(s, size)
    for part in (sequential_rows, fio_rows, selective_row, listing_rows, stream_and_hash_rows, targets):
        part(t)
    text = markdown(t, s.runs("mount_cold_ms"))
    open(md_path, "w").write(text)
    json.dump({"file_size": size, "runs": s.runs("mount_cold_ms"), "samples": s.v,
               "median": {k: s.med(k) for k in s.v}, "min": {k: s.best(k) for k in s.v},
               "targets": t.targets}, open(json_path, "w"), indent=1)
    sys.stdout.write(text)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "fio":
        fio_lines(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 6 and sys.argv[1] == "table":
        table(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
