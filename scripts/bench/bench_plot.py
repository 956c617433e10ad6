#!/usr/bin/env python3
"""The plots of scripts/bench.sh (not run by hand).

  bench_plot.py RESULTS RUNS_DIR OUT_PREFIX

RESULTS is the results file of bench_report.py; RUNS_DIR holds, per run N,
the read traces trace-{mount_cold,mount_warm,stream}-N (read_trace.py) and the
fio JSONs fio-{cold,warm,local}-N.json. For each case the median run (by its
time, or its IOPS) is drawn:
  OUT_PREFIX-throughput.png  MB/s over time (per 100 ms) of the cold, warm and
                             streaming reads through the mount
  OUT_PREFIX-latency.png     fio's 4 KiB random-read completion latency
                             percentiles, cold vs warm mount vs a local file
The data files (OUT_PREFIX-*.dat) stay beside them. Prints the PNG paths;
without gnuplot, says so and draws nothing.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_report import Samples  # noqa: E402

READS = [("mount_cold", "mount, cold (chunk cache empty)"),
         ("mount_warm", "mount, warm (chunk cache full, page cache dropped)"),
         ("stream", "stream through the mount, cold")]
FIO = [("cold", "mount, cold"), ("warm", "mount, warm (chunk cache full)"), ("local", "local file")]
PERCENTILES = ["1.000000", "5.000000", "10.000000", "20.000000", "30.000000", "40.000000",
               "50.000000", "60.000000", "70.000000", "80.000000", "90.000000", "95.000000",
               "99.000000", "99.500000", "99.900000", "99.950000", "99.990000"]


def median_run(samples, key, higher=False):
    """The 1-based run whose sample of KEY is the (lower) median."""
    v = samples.v.get(key)
    if not v:
        return None
    order = sorted(range(len(v)), key=lambda i: -v[i] if higher else v[i])
    return order[(len(v) - 1) // 2] + 1


def rates(trace_path):
    """(start s, end s, MB/s) of each interval of a read_trace.py trace."""
    points = [tuple(map(float, line.split())) for line in open(trace_path)]
    return [(t0, t1, (b1 - b0) / (t1 - t0) / 1e6)
            for (t0, b0), (t1, b1) in zip(points, points[1:]) if t1 > t0]


def throughput_data(samples, runs_dir, dat):
    """Writes one gnuplot data block per case found; returns their titles."""
    titles = []
    with open(dat, "w") as f:
        for case, title in READS:
            run = median_run(samples, case + "_ms")
            path = f"{runs_dir}/trace-{case}-{run}"
            if run is None or not os.path.exists(path):
                continue
            f.write(f"# {case}, run {run}\n")
            # Both ends of each interval: drawn with lines, a step per interval.
            f.writelines(f"{t0:.3f} {r:.1f}\n{t1:.3f} {r:.1f}\n" for t0, t1, r in rates(path))
            f.write("\n\n")
            titles.append(f"{title}, run {run}")
    return titles


def latency_data(samples, runs_dir, dat):
    titles = []
    with open(dat, "w") as f:
        for case, title in FIO:
            run = median_run(samples, f"fio_{case}_iops", higher=True)
            path = f"{runs_dir}/fio-{case}-{run}.json"
            if run is None or not os.path.exists(path):
                continue
            p = json.load(open(path))["jobs"][0]["read"]["clat_ns"]["percentile"]
            f.write(f"# {case}, run {run}: percentile, completion latency in us\n")
            f.writelines(f"{float(k):g} {p[k] / 1000:.1f}\n" for k in PERCENTILES if k in p)
            f.write("\n\n")
            titles.append(f"{title}, run {run}")
    return titles


def plot_lines(dat, titles, style, x):
    """One curve per data block, told apart by colour and by dash (solid,
    dashed, dash-dot) for grey-scale prints."""
    return ", \\\n  ".join(f"'{dat}' index {i} using {x} with {style} lw 2 dt {(1, 2, 4)[i % 3]} title '{t}'"
                           for i, t in enumerate(titles))


def draw(png, settings, plot):
    script = f"set terminal pngcairo size 1100,600 font ',11'\nset output '{png}'\n{settings}\nplot {plot}\n"
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    print(png)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    samples, runs_dir, prefix = Samples(sys.argv[1]), sys.argv[2], sys.argv[3]
    reads = throughput_data(samples, runs_dir, prefix + "-throughput.dat")
    lat = latency_data(samples, runs_dir, prefix + "-latency.dat")
    if not shutil.which("gnuplot"):
        print(f"no gnuplot (scripts/install-deps.sh installs gnuplot-nox): no plots; data in {prefix}-*.dat",
              file=sys.stderr)
        return
    if reads:
        draw(prefix + "-throughput.png",
             "set title 'Sequential reads: throughput over time (1 MiB reads, per 100 ms; median run)'\n"
             "set xlabel 'time since open (s)'\nset ylabel 'MB/s'\nset xrange [0:*]\nset yrange [0:*]\n"
             "set grid\nset key outside bottom center horizontal",
             plot_lines(prefix + "-throughput.dat", reads, "lines", "1:2"))
    if lat:
        draw(prefix + "-latency.png",
             "set title 'fio 4 KiB random reads: completion latency percentiles (median run)'\n"
             "set xlabel 'percentile'\nset ylabel 'latency (us)'\nset logscale y\n"
             "set grid\nset key top left",
             plot_lines(prefix + "-latency.dat", lat, "linespoints", "0:2:xtic(1)"))


if __name__ == "__main__":
    main()
